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
  text out on both sides: tokenizer, ``generate``, ``batch_decode``) on 32 inputs × 64 new tokens, alternating
  rounds, medians (goal ≥ 1.0); and our own greedy decode with the self-attention key/value cache vs
  recomputing the prefix every step, on the same inputs (one timed round each: minutes at this size).
- :func:`bench.hf_encoders.encoders`: random-init electra-small discriminator and generator and a bert-base
  masked LM (full uncased vocabulary) against PyTorch: probabilities (bar 1e-4), token ids, and the served
  ``replaced`` / ``fill_mask`` of ``python -m zoo.run electra|bert --set init=DIR --set epochs=0`` vs
  ``sigmoid(logits)`` and the fill-mask pipeline.

    python -m bench hf          # needs the bench extra (torch)
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from bench.common import BenchRecord, run_recipe
from bench.hf_encoders import encoders
from bench.hf_t5 import FLAN_T5_SMALL, T5_SMALL, hf_t5_model, hf_t5_tokenizer, t5_reference, write_t5_checkpoint
from zoo.data.bbc_news import load_bbc_news
from zoo.export.session import session_load
from zoo.models.hf.t5_checkpoint import load_t5_checkpoint
from zoo.models.text.t5_decoding import t5_greedy

REQUIRES = ("torch", "transformers", "sentencepiece")
SPIECE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hf_t5" / "t5_relu_tied" / "spiece.model"
T5_SHAPES = {"t5-small": T5_SMALL, "flan-t5-small": FLAN_T5_SMALL}
# A tied random T5 with transformers' initialisation greedily repeats its start token (pad) forever: the input
# embedding dominates the residual stream, a trivial comparison. Output projections 16x larger let the blocks
# decide (6 of 7 rows differ; the smallest top-2 logit gap on the path, 8e-4, is far above float noise). A
# smaller embedding instead (0.1x) made every logit tiny: logits matched PyTorch within 4e-7, yet greedy tokens
# differed, as near-ties would.
WRITE_OPTIONS = {"t5-small": dict(output_scale=16.0), "flan-t5-small": {}}
NEW_TOKENS = 64
SPEED_INPUTS = 32
ROUNDS = 3
MAX_INPUT_LENGTH = 128
RECIPE_EXAMPLES = 32  # the recipe run's evaluation (test exact match, meaningless for a random model) kept short


def median_seconds(fns: dict[str, Callable[[], Any]], rounds: int = ROUNDS, warm_up: bool = True) -> dict[str, float]:
    """Each function once to warm up (unless done already), then ``rounds`` alternating rounds; the median
    seconds of each."""
    for fn in fns.values() if warm_up else ():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def t5_texts() -> list[str]:
    """Inputs: ``summarize:`` + the first 150 characters of BBC test articles (under 100 tokens each, so the
    export's ``max_input_length`` cuts nothing that PyTorch sees)."""
    return ["summarize: " + str(t)[:150] for t in load_bbc_news().test[0][:SPEED_INPUTS]]


def logit_parity(ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    """Logits against PyTorch's, absolute and relative to the largest logit, and the softmax probabilities:
    an untied random T5 (no ``d_model ** -0.5`` rescale) has logits in the hundreds, where float32 rounding
    alone is about 1e-5 of the value.

    >>> logit_parity(np.array([[1.0, 3.0]]), np.array([[1.0, 3.00002]]))["probabilities_within_1e-4"]
    True
    """
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


def check_inputs_fit_export(tokenizer, texts: list[str]) -> None:
    """Assert that no input is longer than the export's ``max_input_length``, which would cut it."""
    lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    assert max(lengths) <= MAX_INPUT_LENGTH, f"inputs of {max(lengths)} tokens would be cut by the export"


def zoo_logits(checkpoint, reference: dict[str, np.ndarray]) -> np.ndarray:
    """Our model's logits on PyTorch's encoder inputs and decoder inputs (``t5_reference``'s)."""
    decoder = reference["decoder_input_ids"]
    outputs = checkpoint.lm.backbone({"encoder_token_ids": reference["input_ids"],
                                      "encoder_padding_mask": reference["attention_mask"],
                                      "decoder_token_ids": decoder, "decoder_padding_mask": np.ones_like(decoder)})
    return checkpoint.lm._logits(outputs["decoder_sequence_output"]).numpy()


def pytorch_text_to_text(model, tokenizer, texts: list[str]) -> Callable[[], list[str]]:
    """PyTorch's texts out for ``texts`` in: tokenizer, greedy ``generate`` of ``NEW_TOKENS``, ``batch_decode``."""
    import torch

    def text_to_text() -> list[str]:
        encoded = tokenizer(texts, padding=True, truncation=True, max_length=MAX_INPUT_LENGTH, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**encoded, do_sample=False, num_beams=1, max_new_tokens=NEW_TOKENS, min_new_tokens=0)
        return tokenizer.batch_decode(out, skip_special_tokens=True)

    return text_to_text


@contextlib.contextmanager
def served_text_to_text(export_path: Path) -> Iterator[Callable[[np.ndarray], dict[str, np.ndarray]]]:
    """The export's ``serving_default`` loaded with the TF1 session loader, as TF Serving loads it: a function of
    a batch of texts to their ``text`` and ``token_ids``."""
    graph = tf.Graph()
    with contextlib.closing(tf.compat.v1.Session(graph=graph)) as session:
        with graph.as_default():
            signature = session_load(session, export_path).signature_def["serving_default"]
        feed = signature.inputs["text"].name
        fetch = {k: signature.outputs[k].name for k in ("text", "token_ids")}
        yield lambda batch: session.run(fetch, {feed: batch})


def export_speed(served: dict[str, np.ndarray], seconds: dict[str, float], inputs: int) -> dict[str, Any]:
    """Texts per second of the export and of PyTorch, with the output lengths that explain them."""
    eos = served["token_ids"] == 1
    lengths = np.where(eos.any(axis=1), eos.argmax(axis=1) + 1, NEW_TOKENS)
    return {"inputs": inputs, "new_tokens": NEW_TOKENS, "rounds": ROUNDS,
            "tokens_per_text_mean": float(lengths.mean()), "distinct_outputs": len(set(served["text"])),
            "texts_per_second": {k: round(inputs / v, 2) for k, v in seconds.items()},
            "ratio_zoo_export_vs_pytorch": round(seconds["pytorch"] / seconds["zoo_export"], 3)}


def export_against_pytorch(export_path: Path, texts: list[str], pytorch: Callable[[], list[str]],
                           one: dict[str, np.ndarray], seven: dict[str, np.ndarray]) -> dict[str, Any]:
    """The served token ids against ``generate`` at batch 1 and 7 (references ``one``, ``seven``), the served
    texts against PyTorch's, and the speed of both."""
    batch = np.array(texts, dtype=object)
    with served_text_to_text(export_path) as serve:
        served_1, served_7 = (serve(batch[:n])["token_ids"] for n in (1, 7))
        seconds = median_seconds({"zoo_export": lambda: serve(batch), "pytorch": pytorch})
        served = serve(batch)
    torch_texts = pytorch()
    return {
        "token_ids_equal_generate": {"batch_1": bool((served_1 == one["generated"]).all()),
                                     "batch_7": bool((served_7 == seven["generated"]).all())},
        "texts_equal_pytorch": int(sum(a.decode() == b for a, b in zip(served["text"], torch_texts))),
        "speed": export_speed(served, seconds, len(texts)),
    }


def greedy_decoder(lm, cache: bool) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Our greedy decode of ``NEW_TOKENS`` tokens as a ``tf.function`` of token ids and padding mask, with the
    self-attention key/value cache or recomputing the prefix every step."""
    spec = [tf.TensorSpec([None, None], tf.int32)] * 2
    return tf.function(lambda i, m: t5_greedy(lm, i, m, NEW_TOKENS, cache=cache), input_signature=spec)


def decode_cache(checkpoint, texts: list[str]) -> dict[str, Any]:
    """Seconds of our greedy decode of ``texts`` with the key/value cache and without (one timed round each)."""
    ids, mask = checkpoint.vocab.encode(tf.constant(texts), MAX_INPUT_LENGTH)
    decoders = {"cached": greedy_decoder(checkpoint.lm, cache=True),
                "recomputing": greedy_decoder(checkpoint.lm, cache=False)}
    for decode in decoders.values():  # trace both on two rows; the recomputing one takes minutes at full size
        decode(ids[:2], mask[:2])
    seconds = median_seconds({k: (lambda d=d: d(ids, mask)) for k, d in decoders.items()}, rounds=1, warm_up=False)
    return {"seconds": {k: round(v, 3) for k, v in seconds.items()},
            "speedup_cached_vs_recomputing": round(seconds["recomputing"] / seconds["cached"], 2)}


def t5_shape(name: str, config: dict[str, Any], scratch: Path, texts: list[str]) -> dict[str, Any]:
    """One shape: write the checkpoint, export it through the recipe, compare with PyTorch, time both."""
    directory = write_t5_checkpoint(scratch / name, SPIECE, seed=0, **WRITE_OPTIONS[name], **config)
    model, tokenizer = hf_t5_model(directory), hf_t5_tokenizer(directory)
    check_inputs_fit_export(tokenizer, texts)
    seven = t5_reference(directory, texts[:7], NEW_TOKENS, model)
    one = t5_reference(directory, texts[:1], NEW_TOKENS, model)
    checkpoint = load_t5_checkpoint(directory)
    logits = zoo_logits(checkpoint, seven)
    result = run_recipe("t5", export_dir=scratch / f"{name}-export", init=str(directory), epochs=0,
                        max_new_tokens=NEW_TOKENS, max_input_length=MAX_INPUT_LENGTH, max_examples=RECIPE_EXAMPLES)
    return {
        "config": config,
        **logit_parity(logits, seven["logits"]),
        **export_against_pytorch(result.export.path, texts, pytorch_text_to_text(model, tokenizer, texts), one, seven),
        "decode_cache": decode_cache(checkpoint, texts),
    }


def t5(record: BenchRecord) -> None:
    texts = t5_texts()
    shapes = {}
    with tempfile.TemporaryDirectory(prefix="zoo-bench-hf-t5-") as scratch:  # full-shape checkpoints: 250 MB each
        for name, config in T5_SHAPES.items():
            shapes[name] = t5_shape(name, config, Path(scratch), texts)
            record.add("t5", shapes)


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """Every checkpoint shape against PyTorch (random-init weights of seed 0; ``seeds`` is not used)."""
    t5(record)
    encoders(record)
