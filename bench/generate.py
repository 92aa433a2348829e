"""generate: the t5 export's generate signature, float32 and bfloat16, against PyTorch transformers' generate and
CTranslate2 (float32, int8), greedy, beam search and top-p sampling: goal ≥ 2× PyTorch, ahead of CTranslate2 int8.

The model: a random-init checkpoint of the official t5-small shapes (:data:`bench.hf_t5.T5_SMALL`, seed 0, output
projections scaled as ``python -m bench hf`` scales them, so that the blocks and not the input embedding choose the
tokens), exported by ``python -m zoo.run t5 --set init=DIR --set epochs=0 --set max_new_tokens=32`` and called
through its ``generate`` signature, loaded as TF Serving loads it (:class:`zoo.export.session.SessionModel`),
against ``T5ForConditionalGeneration.generate`` on the same checkpoint. ``zoo_bfloat16`` is the same export made with
``--set precision=bfloat16`` (:mod:`zoo.export.precision`). ``ctranslate2_float32`` and ``ctranslate2_int8`` are
the checkpoint converted by CTranslate2's ``TransformersConverter`` (in a process of its own, before any timing;
int8: its weight quantization) and run by ``ctranslate2.Translator.translate_batch``, its OpenMP threads told to
sleep between calls (``OMP_WAIT_POLICY=PASSIVE``). Text in, text out on every side: the first 8 BBC test texts of
``python -m bench hf``, each tokenized by its side's own tokenizer from the same ``spiece.model`` inside the timed
call, 32 new tokens at most, in three modes (:data:`MODES`):

- greedy search;
- beam search: 4 beams, one sequence returned, length penalty 1.0, no early stopping;
- top-p sampling: top_p 0.9, temperature 1.0, top_k off, seeded (the export by its ``seed`` input, PyTorch by
  ``torch.manual_seed``, CTranslate2 by ``ctranslate2.set_random_seed`` before each call): different generators,
  so different tokens.

CTranslate2's beam search stops once its beams have finished (``patience`` 1), not as ``transformers`` does without
early stopping, so its beam rows may differ from PyTorch's where a longer beam would have scored higher.

Protocol (:mod:`bench.timing`): each engine in a worker process of its own (TensorFlow alone in one, torch alone
in the other), warm-up calls not counted, rounds alternating between the engines (the export first), the median
with min and max; each worker's libraries and thread settings and the machine's float32 and bfloat16 matmul GFLOPS
recorded beside. A random model may end rows early with eos, and sampled rows end at different lengths on each
side, so the goal is judged on generated tokens per second (each row's tokens up to its eos, eos included);
sequences per second are recorded too. For greedy and beam search each engine's rows equal to PyTorch's are counted
(the float32 export's should all be), and the share of ``zoo_bfloat16``'s tokens equal to the float32 export's; for
sampling, each side's mean generated length.

    python -m bench generate      # needs the bench extra (torch)

This module is also the workers' program (``python -m bench.generate ENGINE PATH [ARGUMENT]``) and converts the
checkpoint (``python -m bench.generate prepare CHECKPOINT FOLDER``): its top level imports neither TensorFlow,
torch nor CTranslate2, and each function imports what it needs.
"""

from __future__ import annotations

import contextlib
import json
import os
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

REQUIRES = ("torch", "transformers", "sentencepiece", "ctranslate2")
BATCH = 8
NEW_TOKENS = 32
ROUNDS = 7
WARM_UP_CALLS = 2
GOAL = 2.0  # the bfloat16 export's generated tokens per second over PyTorch's
BASELINE = "pytorch"
LOW_PRECISION = "zoo_bfloat16"
EXPORTS = {"zoo_export": {}, LOW_PRECISION: {"precision": "bfloat16"}}  # each export's settings beyond the common
CTRANSLATE2 = {"ctranslate2_float32": "float32", "ctranslate2_int8": "int8"}  # engine → CTranslate2's quantization
AHEAD_OF = "ctranslate2_int8"
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


def ctranslate2_options(options: dict[str, Any]) -> dict[str, Any]:
    """``translate_batch``'s keyword arguments for a mode's options: a beam of 1 for greedy search and sampling
    (``sampling_topk`` 0: the whole vocabulary, before top-p).

    >>> ctranslate2_options(MODES["top_p_sampling"])
    {'beam_size': 1, 'num_hypotheses': 1, 'sampling_topk': 0, 'sampling_topp': 0.9, 'sampling_temperature': 1.0}
    """
    chosen = {"beam_size": options["num_beams"], "num_hypotheses": options["num_return_sequences"]}
    if options["do_sample"]:
        chosen.update(sampling_topk=options["top_k"], sampling_topp=options["top_p"],
                      sampling_temperature=options["temperature"])
    if options["num_beams"] > 1:
        chosen["length_penalty"] = EXPORT_FIXED["length_penalty"]
    return chosen


def ctranslate2_vocabulary(model_dir: str | Path) -> dict[str, int]:
    """A converted model's tokens → their ids (an encoder-decoder's ``shared_vocabulary.json``, a decoder's
    ``vocabulary.json``)."""
    files = [Path(model_dir) / name for name in ("shared_vocabulary.json", "vocabulary.json")]
    tokens = json.loads(next(path for path in files if path.is_file()).read_text(encoding="utf-8"))
    return {token: index for index, token in enumerate(tokens)}


def padded_rows(rows: list[list[int]], max_new_tokens: int) -> list[list[int]]:
    """Generated rows right-padded with 0 to ``max_new_tokens``, as the export returns them.

    >>> padded_rows([[5, 1], [5, 6, 7]], 3)
    [[5, 1, 0], [5, 6, 7]]
    """
    return [row + [PAD] * (max_new_tokens - len(row)) for row in rows]


def ctranslate2_handlers(model_dir: str, spiece: str) -> dict[str, Callable[..., Any]]:
    """CTranslate2's ``translate_batch`` on a converted checkpoint: the texts cut into pieces by ``spiece`` (with
    eos, as T5's tokenizer ends them), the generated pieces back to the checkpoint's ids (its vocabulary file) and
    to text."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before the OpenMP runtime starts: no spinning when idle
    import ctranslate2
    import sentencepiece

    translator = ctranslate2.Translator(model_dir, device="cpu")
    pieces = sentencepiece.SentencePieceProcessor(model_file=spiece)
    ids = ctranslate2_vocabulary(model_dir)
    eos = pieces.id_to_piece(pieces.eos_id())

    def generate(texts: list[str], max_new_tokens: int, seed: int, **options: Any) -> dict[str, Any]:
        ctranslate2.set_random_seed(seed)
        results = translator.translate_batch([pieces.encode(text, out_type=str) + [eos] for text in texts],
                                             max_decoding_length=max_new_tokens, min_decoding_length=0,
                                             return_end_token=True, **ctranslate2_options(options))
        rows = [[ids[piece] for piece in hypothesis] for result in results for hypothesis in result.hypotheses]
        return {"token_ids": padded_rows(rows, max_new_tokens),
                "texts": [pieces.decode([i for i in row if i < pieces.get_piece_size()]) for row in rows]}

    return {"generate": generate}


def convert(checkpoint: str, folder: str) -> None:
    """The checkpoint in CTranslate2's format, once per quantization of :data:`CTRANSLATE2`, under ``folder``."""
    from ctranslate2.converters import TransformersConverter

    for engine, quantization in CTRANSLATE2.items():
        TransformersConverter(checkpoint).convert(str(Path(folder) / engine), quantization=quantization, force=True)


WORKERS = {"zoo_export": zoo_export_handlers, "pytorch": pytorch_handlers, "ctranslate2": ctranslate2_handlers}


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
    each engine's ratios to PyTorch and the goal; for greedy and beam search, each engine's rows equal to PyTorch's
    and the bfloat16 export's token agreement with the float32 one."""
    figures = speed_figures(timed)
    ratios = {name: speed_ratio(figures, name, BASELINE) for name in timed if name != BASELINE}
    low = ratios[LOW_PRECISION]["generated_tokens_per_second"]
    figures = {
        "options": {"max_new_tokens": NEW_TOKENS, **options, **EXPORT_FIXED}, **figures,
        "ratio_vs_pytorch": ratios,
        "goal": f"{LOW_PRECISION} generated tokens per second >= {GOAL:g} x {BASELINE}'s and above {AHEAD_OF}'s",
        "goal_met": low >= GOAL and low > ratios[AHEAD_OF]["generated_tokens_per_second"],
    }
    if not options["do_sample"]:
        tokens = {name: np.array(t.last["token_ids"]) for name, t in timed.items()}
        figures["rows_equal_pytorch"] = {name: int((ids == tokens[BASELINE]).all(axis=1).sum())
                                         for name, ids in tokens.items() if name != BASELINE}
        figures["rows"] = len(tokens[BASELINE])
        figures["bfloat16_token_agreement"] = round(float(np.mean(tokens[LOW_PRECISION] == tokens["zoo_export"])), 4)
    return figures


def summary_line(mode: str, figures: dict[str, Any]) -> str:
    """One mode in a line: each engine's ratio to PyTorch in generated tokens per second, the goal, rows equal."""
    ratios = ", ".join(f"{name} {ratio['generated_tokens_per_second']:g}"
                       for name, ratio in figures["ratio_vs_pytorch"].items())
    equal = ("; rows equal to pytorch: " + ", ".join(f"{name} {n}/{figures['rows']}"
                                                      for name, n in figures["rows_equal_pytorch"].items())
             if "rows" in figures else "")
    return (f"{mode}: times pytorch's tokens/s: {ratios} (goal: {'met' if figures['goal_met'] else 'missed'})"
            f"{equal}")


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
        "export_settings": export_settings(), "exports": EXPORTS, "ctranslate2": CTRANSLATE2, "inputs": texts,
        "max_new_tokens": NEW_TOKENS, "rounds": rounds, "warm_up_calls": WARM_UP_CALLS})
    record.add("matmul", timing.matmul_speeds())  # before any worker starts: the machine alone
    with tempfile.TemporaryDirectory(prefix="zoo-bench-generate-") as scratch, contextlib.ExitStack() as workers_open:
        checkpoint = checkpoint or write_checkpoint(Path(scratch))
        check_inputs_fit_export(hf_t5_tokenizer(checkpoint), texts)
        timing.prepare("bench.generate", "ctranslate2", str(checkpoint), scratch)
        pytorch = workers_open.enter_context(timing.engine_worker("bench.generate", "pytorch", checkpoint))
        versions = {name: export_with_cli("t5", {"init": checkpoint, **export_settings(), **settings},
                                          Path(scratch) / name) for name, settings in EXPORTS.items()}
        workers = {name: workers_open.enter_context(timing.Worker(
            timing.engine_command("bench.generate", "zoo_export", version), name)) for name, version in versions.items()}
        for name in CTRANSLATE2:
            workers[name] = workers_open.enter_context(timing.Worker(
                timing.engine_command("bench.generate", "ctranslate2", Path(scratch) / name,
                                      str(Path(checkpoint) / "spiece.model")), name))
        timed_modes(record, {**workers, BASELINE: pytorch}, texts, rounds)


def main(argv: list[str] | None = None) -> int:
    """A worker (``python -m bench.generate ENGINE PATH [ARGUMENT ...]``), or the conversion of a checkpoint for
    an engine (``python -m bench.generate prepare CHECKPOINT FOLDER``): :func:`bench.timing.engine_main`."""
    return timing.engine_main(WORKERS, argv if argv is not None else sys.argv[1:], convert)


if __name__ == "__main__":
    sys.exit(main())
