"""generate: the t5 export's generate signature against PyTorch transformers' generate, greedy, beam search and
top-p sampling: goal ≥ 2× PyTorch's generated tokens per second.

The model: a random-init checkpoint of the official t5-small shapes (:data:`bench.hf_t5.T5_SMALL`, seed 0, output
projections scaled as ``python -m bench hf`` scales them, so that the blocks and not the input embedding choose the
tokens), exported by ``python -m zoo.run t5 --set init=DIR --set epochs=0 --set max_new_tokens=32`` and called
through its ``generate`` signature, loaded as TF Serving loads it (:class:`zoo.export.session.SessionModel`),
against ``T5ForConditionalGeneration.generate`` on the same checkpoint. Text in, text out on both sides: the first
8 BBC test texts of ``python -m bench hf``, each tokenized by its side's own tokenizer from the same
``spiece.model`` inside the timed call, 32 new tokens at most, in three modes (:data:`MODES`):

- greedy search;
- beam search: 4 beams, one sequence returned, length penalty 1.0, no early stopping;
- top-p sampling: top_p 0.9, temperature 1.0, top_k off, seeded (the export by its ``seed`` input, PyTorch by
  ``torch.manual_seed`` before each call): different generators, so different tokens.

Protocol (:mod:`bench.timing`): each engine in a worker process of its own (TensorFlow alone in one, torch alone
in the other), warm-up calls not counted, rounds alternating between the engines (the export first), the median
with min and max; each worker's libraries and thread settings and the machine's float32 and bfloat16 matmul GFLOPS
recorded beside. A random model may end rows early with eos, and sampled rows end at different lengths on each
side, so the goal is judged on generated tokens per second (each row's tokens up to its eos, eos included);
sequences per second are recorded too. For greedy and beam search the rows of the export equal to PyTorch's are
counted (they should all be); for sampling, each side's mean generated length.

    python -m bench generate      # needs the bench extra (torch)

This module is also the workers' program (``python -m bench.generate ENGINE PATH``): its top level imports neither
TensorFlow nor torch, and each function imports what it needs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bench import timing
from bench.hf_t5 import (MAX_INPUT_LENGTH, RECIPE_EXAMPLES, SPIECE, T5_SMALL, WRITE_OPTIONS, check_inputs_fit_export,
                         hf_t5_model, hf_t5_tokenizer, t5_texts, write_t5_checkpoint)

if TYPE_CHECKING:
    from bench.common import BenchRecord

REQUIRES = ("torch", "transformers", "sentencepiece")
BATCH = 8
NEW_TOKENS = 32
ROUNDS = 7
WARM_UP_CALLS = 2
GOAL = 2.0  # the export's generated tokens per second over PyTorch's
EOS, PAD = 1, 0
EXPORT_FIXED = {"length_penalty": 1.0, "early_stopping": False}  # beam search's, fixed at export; PyTorch's alike
# greedy search's options (bench.gpt2_speed and bench.hf time it too)
GREEDY = dict(num_beams=1, do_sample=False, temperature=1.0, top_k=0, top_p=1.0, seed=0, num_return_sequences=1)
MODES = {  # the generate signature's option inputs, max_new_tokens aside
    "greedy": GREEDY,
    "beam_search": dict(num_beams=4, do_sample=False, temperature=1.0, top_k=0, top_p=1.0, seed=0,
                        num_return_sequences=1),
    "top_p_sampling": dict(num_beams=1, do_sample=True, temperature=1.0, top_k=0, top_p=0.9, seed=0,
                           num_return_sequences=1),
}


# ------------------------------------------------------------------------------ the workers (one engine each)
def session_generate(model) -> Callable[..., dict[str, Any]]:
    """A handler of the export's ``generate`` signature (``model``: a :class:`zoo.export.session.SessionModel`):
    texts and the option scalars in; ``token_ids`` [rows, max_new_tokens] and ``texts``, one row per sequence."""
    from zoo.models.text.decoding import OPTION_SPECS

    def generate(texts: list[str], **options: Any) -> dict[str, Any]:
        feeds = {spec.name: spec.dtype.as_numpy_dtype(options[spec.name]) for spec in OPTION_SPECS}
        out = model.run("generate", {"text": np.array(texts, dtype=object), **feeds}, ["texts", "token_ids"])
        return {"token_ids": out["token_ids"].reshape(-1, out["token_ids"].shape[-1]).tolist(),
                "texts": [text.decode() for text in out["texts"].reshape(-1)]}

    return generate


def zoo_export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """The export's ``generate`` signature, loaded with the TF1 session loader as TF Serving loads it."""
    from zoo.export.session import SessionModel

    return {"generate": session_generate(SessionModel(version_dir))}


def pytorch_generate(model, tokenizer, **fixed: Any) -> Callable[..., dict[str, Any]]:
    """A handler of ``transformers``' ``generate`` on ``model``: the texts tokenized (padded as ``tokenizer``
    pads), ``generate`` with the request's options and the ``fixed`` keyword arguments; the new tokens (pad after
    the model's eos, right-padded to ``max_new_tokens``) and their texts."""
    import torch

    eos = model.config.eos_token_id

    def generate(texts: list[str], max_new_tokens: int, seed: int, **options: Any) -> dict[str, Any]:
        encoded = tokenizer(texts, padding=True, return_tensors="pt")
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**encoded, max_new_tokens=max_new_tokens, min_new_tokens=0, **pytorch_options(options),
                                 **fixed)
        new = out[:, 1 if model.config.is_encoder_decoder else encoded["input_ids"].shape[1]:]  # no start, no prompt
        generated = np.pad(new.numpy(), [(0, 0), (0, max_new_tokens - new.shape[1])])
        return {"token_ids": padded_after_eos(generated, eos).tolist(),
                "texts": tokenizer.batch_decode(new, skip_special_tokens=True)}

    return generate


def pytorch_handlers(checkpoint: str) -> dict[str, Callable[..., Any]]:
    """``transformers`` ``generate`` on the checkpoint: tokenizer, ``generate``, ``batch_decode``."""
    return {"generate": pytorch_generate(hf_t5_model(Path(checkpoint)), hf_t5_tokenizer(Path(checkpoint)))}


WORKERS = {"zoo_export": zoo_export_handlers, "pytorch": pytorch_handlers}


def pytorch_options(options: dict[str, Any]) -> dict[str, Any]:
    """``generate``'s keyword arguments for a mode's options: the sampling ones only when sampling, the beam ones
    (as the export fixes them) only for beam search, so ``transformers`` warns of no unused flag.

    >>> pytorch_options(MODES["top_p_sampling"])
    {'num_beams': 1, 'num_return_sequences': 1, 'do_sample': True, 'temperature': 1.0, 'top_k': 0, 'top_p': 0.9}
    """
    chosen = {key: options[key] for key in ("num_beams", "num_return_sequences", "do_sample")}
    if options["do_sample"]:
        chosen.update({key: options[key] for key in ("temperature", "top_k", "top_p")})
    if options["num_beams"] > 1:
        chosen.update(EXPORT_FIXED)
    return chosen


def padded_after_eos(token_ids: np.ndarray, eos: int = EOS) -> np.ndarray:
    """``token_ids`` with pad (0) after each row's first ``eos``, as the export returns them (``transformers``' beam
    search fills a finished hypothesis with eos instead).

    >>> padded_after_eos(np.array([[5, 1, 1, 1], [5, 6, 7, 8]])).tolist()
    [[5, 1, 0, 0], [5, 6, 7, 8]]
    """
    ends = token_ids == eos
    return np.where(np.cumsum(ends, axis=1) - ends > 0, PAD, token_ids)


# ------------------------------------------------------------------------------ the parent
def write_checkpoint(folder: Path) -> Path:
    """The random-init t5-small-shaped checkpoint (seed 0, as ``python -m bench hf`` writes it)."""
    return write_t5_checkpoint(folder / "t5-small", SPIECE, seed=0, **WRITE_OPTIONS["t5-small"], **T5_SMALL)


def export_settings() -> dict[str, Any]:
    """The t5 recipe's config for the export, beyond ``init``."""
    return {"epochs": 0, "max_new_tokens": NEW_TOKENS, "max_input_length": MAX_INPUT_LENGTH,
            "max_examples": RECIPE_EXAMPLES, "length_penalty": EXPORT_FIXED["length_penalty"],
            "beam_early_stopping": EXPORT_FIXED["early_stopping"]}


def generated_lengths(token_ids: np.ndarray, eos: int = EOS) -> np.ndarray:
    """Each row's generated tokens: up to its first ``eos``, eos included, else all of them.

    >>> generated_lengths(np.array([[5, 1, 0], [5, 6, 7]])).tolist()
    [2, 3]
    """
    ends = token_ids == eos
    return np.where(ends.any(axis=1), ends.argmax(axis=1) + 1, token_ids.shape[1])


def speed_figures(timed: dict[str, timing.Timed], eos: int = EOS) -> dict[str, Any]:
    """Each engine's seconds (median, min, max), sequences and generated tokens per second (of its last round's
    rows), sequences, generated tokens and mean generated length."""
    lengths = {name: generated_lengths(np.array(t.last["token_ids"]), eos) for name, t in timed.items()}
    seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
    return {
        "seconds": seconds,
        "sequences_per_second": {name: round(len(n) / seconds[name]["median"], 2) for name, n in lengths.items()},
        "generated_tokens_per_second": {name: round(int(n.sum()) / seconds[name]["median"], 1)
                                        for name, n in lengths.items()},
        "sequences": {name: len(n) for name, n in lengths.items()},
        "generated_tokens": {name: int(n.sum()) for name, n in lengths.items()},
        "mean_generated_length": {name: round(float(n.mean()), 2) for name, n in lengths.items()},
    }


def speed_ratio(figures: dict[str, Any], engine: str, baseline: str) -> dict[str, float]:
    """``engine``'s sequences and generated tokens per second over ``baseline``'s (:func:`speed_figures`), from
    the counts and median seconds, not the rounded rates."""
    faster = timing.speedup(figures["seconds"], engine, baseline)
    return {f"{kind}_per_second": round(faster * figures[kind][engine] / figures[kind][baseline], 3)
            for kind in ("sequences", "generated_tokens")}


def compared(timed: dict[str, timing.Timed], options: dict[str, Any]) -> dict[str, Any]:
    """One mode's figures: seconds (median, min, max), sequences and generated tokens per second of each engine,
    the export's ratios to PyTorch and the goal; for greedy and beam search, the rows equal to PyTorch's."""
    figures = speed_figures(timed)
    ratio = speed_ratio(figures, "zoo_export", "pytorch")
    figures = {
        "options": {"max_new_tokens": NEW_TOKENS, **options, **EXPORT_FIXED}, **figures,
        "ratio_zoo_export_vs_pytorch": ratio,
        "goal": f"zoo_export generated tokens per second >= {GOAL:g} x pytorch's",
        "goal_met": ratio["generated_tokens_per_second"] >= GOAL,
    }
    if not options["do_sample"]:
        tokens = {name: np.array(t.last["token_ids"]) for name, t in timed.items()}
        figures["rows_equal_pytorch"] = int((tokens["zoo_export"] == tokens["pytorch"]).all(axis=1).sum())
        figures["rows"] = len(tokens["pytorch"])
    return figures


def engines_summary(figures: dict[str, Any]) -> str:
    """Each engine's generated tokens and sequences per second and median seconds (:func:`speed_figures`)."""
    return ", ".join(f"{name} {figures['generated_tokens_per_second'][name]:g} tokens/s "
                     f"({figures['sequences_per_second'][name]:g} sequences/s, "
                     f"median {figures['seconds'][name]['median']:g} s)" for name in figures["seconds"])


def summary_line(mode: str, figures: dict[str, Any]) -> str:
    """One mode in a line: each engine's generated tokens and sequences per second, the ratio, the goal."""
    ratio = figures["ratio_zoo_export_vs_pytorch"]["generated_tokens_per_second"]
    equal = f"; rows equal to pytorch {figures['rows_equal_pytorch']}/{figures['rows']}" if "rows" in figures else ""
    return (f"{mode}: {engines_summary(figures)}; ratio {ratio:g} "
            f"(goal >= {GOAL:g}: {'met' if figures['goal_met'] else 'missed'}){equal}")


def timed_modes(record: BenchRecord, workers: dict[str, timing.Worker], texts: list[str], rounds: int) -> None:
    """Every mode timed on the running workers, recorded as it lands; then each worker's process description."""
    for mode, options in MODES.items():
        timed = timing.alternating_rounds(workers, "generate", {"texts": texts, "max_new_tokens": NEW_TOKENS,
                                                                **options}, rounds, WARM_UP_CALLS)
        record.add(mode, {**compared(timed, options), "load_average": timing.load_average()})
        print(summary_line(mode, record.payload[mode]), flush=True)
    record.add("processes", timing.processes(workers))


def run(record: BenchRecord, seeds: Sequence[int], checkpoint: Path | None = None, rounds: int = ROUNDS) -> None:
    """Every mode on the t5-small-shaped checkpoint (random-init weights of seed 0; ``seeds`` is not used).
    ``checkpoint`` (a ready checkpoint directory instead) and ``rounds`` are for tests."""
    from bench.common import export_with_cli

    texts = t5_texts()[:BATCH]
    record.describe("setup", {
        "checkpoint": str(checkpoint) if checkpoint else {"shape": "t5-small", **T5_SMALL, "seed": 0},
        "export_settings": export_settings(), "inputs": texts, "max_new_tokens": NEW_TOKENS, "rounds": rounds,
        "warm_up_calls": WARM_UP_CALLS})
    record.add("matmul", timing.matmul_speeds())  # before any worker starts: the machine alone
    with tempfile.TemporaryDirectory(prefix="zoo-bench-generate-") as scratch:  # a full-shape checkpoint: 250 MB
        checkpoint = checkpoint or write_checkpoint(Path(scratch))
        check_inputs_fit_export(hf_t5_tokenizer(checkpoint), texts)
        with timing.engine_worker("bench.generate", "pytorch", checkpoint) as pytorch:  # loads while the export runs
            version_dir = export_with_cli("t5", {"init": checkpoint, **export_settings()}, Path(scratch))
            with timing.engine_worker("bench.generate", "zoo_export", version_dir) as zoo_export:
                timed_modes(record, {"zoo_export": zoo_export, "pytorch": pytorch}, texts, rounds)


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.generate ENGINE PATH`` serves ENGINE's ``generate`` (:mod:`bench.timing`)."""
    timing.serve_engine(WORKERS, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
