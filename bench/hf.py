"""hf: Hugging Face checkpoints in, TF Serving out, against PyTorch ``transformers`` in the same run.

One function per model family, each writing its part of ``bench/results/hf.json`` as it lands
(``record.add(family, …)``):

- :func:`t5`: random-init checkpoints of the official ``t5-small`` (v1.0: relu, tied) and ``flan-t5-small``
  (v1.1: gated tanh GELU, untied) shapes, written by ``transformers`` (:mod:`bench.hf_t5`), then
  ``python -m zoo.run t5 --set init=DIR --set epochs=0 --set max_new_tokens=64`` (in process). Recorded:
  the largest logit difference to PyTorch, absolute and relative, and the
  largest softmax-probability difference (bar 1e-4); whether the exported ``serving_default``, loaded with
  the TF1 session loader as TF Serving loads it, returns ``token_ids`` equal to ``generate(do_sample=False,
  num_beams=1)`` at batch 1 and 7 for 64 new tokens; texts per second of that export vs PyTorch (text in,
  text out on both sides: tokenizer, ``generate``, ``batch_decode``) on 32 inputs × 64 new tokens (goal ≥ 1.0);
  and our own greedy decode with the self-attention key/value cache vs recomputing the prefix every step, on
  the same inputs (tokenized by the checkpoint's vocabulary inside the timed call).
- :func:`bench.hf_encoders.encoders`: random-init electra-small discriminator and generator and a bert-base
  masked LM (full uncased vocabulary) against PyTorch: probabilities (bar 1e-4), token ids, and the served
  ``replaced`` / ``fill_mask`` of ``python -m zoo.run electra|bert --set init=DIR --set epochs=0`` vs
  ``sigmoid(logits)`` and the fill-mask pipeline.

Both t5 speed comparisons follow :mod:`bench.timing`'s protocol: each engine in a worker process of its own
(TensorFlow alone in the export's and in each decoder's, torch alone in PyTorch's), the same 32 texts in one batch
for every engine, a warm-up call not counted, then :data:`ROUNDS` rounds alternating between the engines; each
engine's median seconds with min and max, its texts per second from the median, each worker's libraries and
threads, and its achieved GFLOPS (:func:`t5_generation_flops`) beside the machine's float32 and bfloat16 matmul
GFLOPS (``matmul``, measured before any worker starts).

    python -m bench hf          # needs the bench extra (torch)

This module is also the workers' program (``python -m bench.hf ENGINE PATH``): its top level imports neither
TensorFlow nor torch, and each function imports what it needs.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bench import generate, timing
from bench.hf_encoders import encoders
from bench.hf_t5 import (FLAN_T5_SMALL, MAX_INPUT_LENGTH, RECIPE_EXAMPLES, SPIECE, T5_SMALL, WRITE_OPTIONS,
                         check_inputs_fit_export, hf_t5_model, hf_t5_tokenizer, input_lengths, t5_reference, t5_texts,
                         write_t5_checkpoint)

if TYPE_CHECKING:
    from bench.common import BenchRecord

REQUIRES = ("torch", "transformers", "sentencepiece")
T5_SHAPES = {"t5-small": T5_SMALL, "flan-t5-small": FLAN_T5_SMALL}
NEW_TOKENS = 64
ROUNDS = 3
WARM_UP_CALLS = 1


# ------------------------------------------------------------------------------ the workers (one engine each)
def zoo_export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """``greedy``: the export's ``serving_default`` (texts in; texts and ``token_ids`` out), loaded with the TF1
    session loader as TF Serving loads it."""
    from zoo.export.session import SessionModel

    model = SessionModel(version_dir)

    def greedy(texts: list[str]) -> dict[str, list]:
        out = model.run("serving_default", {"text": np.array(texts, dtype=object)}, ["text", "token_ids"])
        return {"token_ids": out["token_ids"].tolist(), "texts": [text.decode() for text in out["text"]]}

    return {"greedy": greedy}


def pytorch_handlers(checkpoint: str) -> dict[str, Callable[..., Any]]:
    """``greedy``: ``transformers``' greedy ``generate`` of :data:`NEW_TOKENS` tokens on the checkpoint, text in
    and text out (:func:`bench.generate.pytorch_handlers`)."""
    pytorch_generate = generate.pytorch_handlers(checkpoint)["generate"]
    return {"greedy": functools.partial(pytorch_generate, max_new_tokens=NEW_TOKENS, **generate.GREEDY)}


def zoo_decoder_handlers(checkpoint: str, cache: bool) -> dict[str, Callable[..., Any]]:
    """``greedy``: our greedy decode of :data:`NEW_TOKENS` tokens of the imported checkpoint, a ``tf.function``
    with the self-attention key/value cache (``cache``) or recomputing the prefix every step; the texts tokenized
    by the checkpoint's vocabulary in the call."""
    import tensorflow as tf

    from zoo.models.hf.t5_checkpoint import load_t5_checkpoint
    from zoo.models.text.t5_decoding import t5_greedy

    imported = load_t5_checkpoint(checkpoint)
    spec = [tf.TensorSpec([None, None], tf.int32)] * 2
    decode = tf.function(lambda i, m: t5_greedy(imported.lm, i, m, NEW_TOKENS, cache=cache), input_signature=spec)

    def greedy(texts: list[str]) -> dict[str, list]:
        ids, mask = imported.vocab.encode(tf.constant(texts), MAX_INPUT_LENGTH)
        return {"token_ids": decode(ids, mask).numpy().tolist()}

    return {"greedy": greedy}


WORKERS = {"zoo_export": zoo_export_handlers, "pytorch": pytorch_handlers,
           "cached": functools.partial(zoo_decoder_handlers, cache=True),
           "recomputing": functools.partial(zoo_decoder_handlers, cache=False)}


def worker(engine: str, path: Path) -> timing.Worker:
    return timing.engine_worker("bench.hf", engine, path)


# ------------------------------------------------------------------------------ the parent
def logit_parity(ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    """Logits against PyTorch's, absolute and relative to the largest logit, and the softmax probabilities:
    an untied random T5 (no ``d_model ** -0.5`` rescale) has logits in the hundreds, where float32 rounding
    alone is about 1e-5 of the value.

    >>> logit_parity(np.array([[1.0, 3.0]]), np.array([[1.0, 3.00002]]))["probabilities_within_1e-4"]
    True
    """
    import tensorflow as tf

    difference = float(np.abs(ours - theirs).max())
    probabilities = float(np.abs(tf.nn.softmax(ours) - tf.nn.softmax(theirs)).max())
    return {
        "max_abs_logit_difference": difference,
        "max_abs_logit": float(np.abs(theirs).max()),
        "max_relative_logit_difference": difference / float(np.abs(theirs).max()),
        "logits_within_1e-4": difference < 1e-4,
        "max_abs_probability_difference": probabilities,
        "probabilities_within_1e-4": probabilities < 1e-4,
    }


def zoo_logits(checkpoint, reference: dict[str, np.ndarray]) -> np.ndarray:
    """Our model's logits on PyTorch's encoder inputs and decoder inputs (``t5_reference``'s)."""
    decoder = reference["decoder_input_ids"]
    outputs = checkpoint.lm.backbone({"encoder_token_ids": reference["input_ids"],
                                      "encoder_padding_mask": reference["attention_mask"],
                                      "decoder_token_ids": decoder, "decoder_padding_mask": np.ones_like(decoder)})
    return checkpoint.lm._logits(outputs["decoder_sequence_output"]).numpy()


def t5_generation_flops(config: dict[str, Any], input_lengths: Sequence[int], generated_lengths: Sequence[int]) -> int:
    """The FLOPs of greedy generation with a T5 of ``config`` (``config.json``'s fields): for each text, its
    ``input_lengths`` tokens in, its ``generated_lengths`` tokens out (up to eos, eos included).

    Counted is the work any engine must do, from the shapes: the encoder over the input's tokens
    (:func:`bench.timing.encoder_layer_flops`), the cross-attention keys and values once, then for each generated
    token one decoder step (self-attention projections and attention over the tokens so far, cross-attention query
    and output projections and attention over the input, the feed-forward block: 2 × d_ff × d_model weights, 3 ×
    gated) and the projection to the vocabulary; a multiply and an add per weight and token. Not counted: padding,
    layer norms, softmax, relative position biases, embedding lookups, and whatever an engine does beyond that
    work (the recomputing decoder's prefix, steps after a row's eos).

    >>> config = dict(d_model=4, d_kv=2, num_heads=2, d_ff=8, num_layers=1, feed_forward_proj="relu", vocab_size=10)
    >>> t5_generation_flops(config, input_lengths=[3], generated_lengths=[2])
    2048
    """
    width, attention_width = config["d_model"], config["num_heads"] * config["d_kv"]
    feed_forward = (3 if config["feed_forward_proj"].startswith("gated") else 2) * width * config["d_ff"]
    decoder_layers = config.get("num_decoder_layers") or config["num_layers"]
    total = 0
    for n, g in zip(input_lengths, generated_lengths):
        total += config["num_layers"] * timing.encoder_layer_flops(n, width, attention_width, feed_forward)
        total += decoder_layers * (timing.matmul_flops(2 * width * attention_width, n)  # cross keys, values
                                   + timing.matmul_flops(6 * width * attention_width + feed_forward, g)
                                   + timing.attention_flops(1, g * (g + 1) // 2, attention_width)  # step t: t keys
                                   + timing.attention_flops(g, n, attention_width))
        total += timing.matmul_flops(width * config["vocab_size"], g)
    return int(total)


def greedy_speed(timed: dict[str, timing.Timed], flops: Callable[[np.ndarray], int],
                 matmul: dict[str, Any]) -> dict[str, Any]:
    """Each engine's seconds (median, min, max), texts per second, mean generated tokens per text (of its last
    round) and achieved GFLOPS (``flops`` of its generated lengths: :func:`t5_generation_flops` of the shape and
    inputs) beside the machine's matmul GFLOPS."""
    seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
    generated = {name: generate.generated_lengths(np.array(t.last["token_ids"])) for name, t in timed.items()}
    return {
        "inputs": len(next(iter(generated.values()))), "new_tokens": NEW_TOKENS,
        "rounds": len(next(iter(seconds.values()))["rounds"]), "warm_up_calls": WARM_UP_CALLS, "seconds": seconds,
        "texts_per_second": {name: round(len(generated[name]) / s["median"], 2) for name, s in seconds.items()},
        "generated_tokens_per_text_mean": {name: float(n.mean()) for name, n in generated.items()},
        **timing.achieved({name: flops(n) for name, n in generated.items()}, seconds, matmul),
    }


def timed_greedy(workers: dict[str, timing.Worker], texts: list[str], flops: Callable[[np.ndarray], int],
                 matmul: dict[str, Any], rounds: int) -> tuple[dict[str, timing.Timed], dict[str, Any]]:
    """``greedy`` on ``texts`` on every worker, ``rounds`` alternating rounds after a warm-up call: the timings, and
    their figures (:func:`greedy_speed`) with the load average as the rounds end and each worker's process."""
    timed = timing.alternating_rounds(workers, "greedy", {"texts": texts}, rounds, WARM_UP_CALLS)
    return timed, {**greedy_speed(timed, flops, matmul), "load_average": timing.load_average(),
                   "processes": timing.processes(workers)}


def export_against_pytorch(export_path: Path, checkpoint: Path, texts: list[str], one: dict[str, np.ndarray],
                           seven: dict[str, np.ndarray], flops: Callable[[np.ndarray], int], matmul: dict[str, Any],
                           rounds: int = ROUNDS) -> dict[str, Any]:
    """The export and PyTorch timed on ``texts`` (:func:`timed_greedy`), the served texts against PyTorch's, then
    the served token ids against ``generate`` at batch 1 and 7 (references ``one``, ``seven``)."""
    with worker("zoo_export", export_path) as zoo_export, worker("pytorch", checkpoint) as pytorch:
        timed, speed = timed_greedy({"zoo_export": zoo_export, "pytorch": pytorch}, texts, flops, matmul, rounds)
        served_1, served_7 = (np.array(zoo_export.call("greedy", texts=texts[:n]).value["token_ids"]) for n in (1, 7))
    served = timed["zoo_export"].last["texts"]
    return {
        "token_ids_equal_generate": {"batch_1": bool((served_1 == one["generated"]).all()),
                                     "batch_7": bool((served_7 == seven["generated"]).all())},
        "texts_equal_pytorch": sum(a == b for a, b in zip(served, timed["pytorch"].last["texts"])),
        "speed": {**speed, "distinct_outputs": len(set(served)),
                  "ratio_zoo_export_vs_pytorch": round(timing.speedup(speed["seconds"], "zoo_export", "pytorch"), 3)},
    }


def decode_cache(checkpoint: Path, texts: list[str], flops: Callable[[np.ndarray], int], matmul: dict[str, Any],
                 rounds: int = ROUNDS) -> dict[str, Any]:
    """Our greedy decode of ``texts`` with the key/value cache against recomputing the prefix every step, each in
    a worker of its own (:func:`timed_greedy`), the speedup, whether their tokens are equal."""
    with worker("cached", checkpoint) as cached, worker("recomputing", checkpoint) as recomputing:
        timed, speed = timed_greedy({"cached": cached, "recomputing": recomputing}, texts, flops, matmul, rounds)
    return {**speed, "token_ids_equal": timed["cached"].last == timed["recomputing"].last,
            "speedup_cached_vs_recomputing": round(timing.speedup(speed["seconds"], "cached", "recomputing"), 2)}


def t5_shape(name: str, config: dict[str, Any], scratch: Path, texts: list[str], matmul: dict[str, Any],
             rounds: int = ROUNDS) -> dict[str, Any]:
    """One shape: write the checkpoint, compare our import's logits with PyTorch's, export it through the recipe,
    compare the export's tokens with PyTorch's and time both, then time our decode with and without its cache.
    ``rounds`` is for tests."""
    from bench.common import run_recipe
    from zoo.models.hf.t5_checkpoint import load_t5_checkpoint

    directory = write_t5_checkpoint(scratch / name, SPIECE, seed=0, **WRITE_OPTIONS.get(name, {}), **config)
    tokenizer = hf_t5_tokenizer(directory)
    check_inputs_fit_export(tokenizer, texts)
    model = hf_t5_model(directory)
    seven = t5_reference(directory, texts[:7], NEW_TOKENS, model)
    one = t5_reference(directory, texts[:1], NEW_TOKENS, model)
    logits = zoo_logits(load_t5_checkpoint(directory), seven)
    result = run_recipe("t5", export_dir=scratch / f"{name}-export", init=str(directory), epochs=0,
                        max_new_tokens=NEW_TOKENS, max_input_length=MAX_INPUT_LENGTH, max_examples=RECIPE_EXAMPLES)
    full_config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    flops = functools.partial(t5_generation_flops, full_config, input_lengths(tokenizer, texts))
    return {
        "config": config,
        **logit_parity(logits, seven["logits"]),
        **export_against_pytorch(result.export.path, directory, texts, one, seven, flops, matmul, rounds),
        "decode_cache": decode_cache(directory, texts, flops, matmul, rounds),
    }


def t5(record: BenchRecord, shapes: dict[str, dict[str, Any]] = T5_SHAPES, texts: list[str] | None = None,
       rounds: int = ROUNDS) -> None:
    """Every T5 shape (``shapes``), recorded as each lands; the machine's matmul speed first, before any worker
    starts. ``shapes``, ``texts`` and ``rounds`` are for tests."""
    texts = texts or t5_texts()
    record.add("matmul", timing.matmul_speeds())
    done = {}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-hf-t5-") as scratch:  # full-shape checkpoints: 250 MB each
        for name, config in shapes.items():
            done[name] = t5_shape(name, config, Path(scratch), texts, record.payload["matmul"], rounds)
            record.add("t5", done)


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """Every checkpoint shape against PyTorch (random-init weights of seed 0; ``seeds`` is not used)."""
    t5(record)
    encoders(record)


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.hf ENGINE PATH`` serves ENGINE's ``greedy`` (:mod:`bench.timing`)."""
    timing.serve_engine(WORKERS, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
