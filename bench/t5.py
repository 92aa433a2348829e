"""t5: the default run's exact match on BBC test articles, and exported vs eager KerasHub generation speed.

Speed ratio: texts per second of the exported ``serving_default`` (loaded with the TF1 session loader, as TF
Serving loads it; tokenization, greedy decoding and detokenization in the graph) vs the same trained model
generating eagerly through KerasHub (``T5Seq2SeqLM.generate`` with a greedy sampler on the same tokenized
inputs, then detokenized), on the same test articles, alternating, same run. Outputs are compared too.

Exact match over seeds (3 by default: a run takes about 10 minutes on 2 cores); speed on the first seed's model.
Then the same seeds again with ``SPAN_CORRUPTION`` (ten passes of T5's span corruption over the training articles
before fine-tuning): does that pretraining pay off? Its exact match per seed, the pretraining loss and token
accuracy of every pass, and the difference of the means are kept under ``span_corruption``. The whole bench takes
about three times as long as the default runs alone.

    python -m bench t5 [--seeds N]
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from bench.common import BenchRecord, run_recipe, run_seeds, seed_stats
from recipes.t5 import T5
from zoo.export.session import session_load
from zoo.recipe import RunResult
from zoo.text.greedy_decode import keras_hub_greedy

DEFAULT_SEEDS = 3
SPAN_CORRUPTION = {"pretrain_epochs": 10}  # about 2,290 steps (229 a pass): 2 passes barely learned
BATCH = 32
ROUNDS = 3


def timed(fn) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    # speed right after the first seed: a later run's session drops the first model's SentencePiece resource
    record.add("speed", speed(run_seeds(record, seeds[:1])))
    run_seeds(record, seeds[1:])
    span_corruption(record, seeds)


def span_corruption(record: BenchRecord, seeds: Sequence[int]) -> None:
    """The default runs' seeds again with ``SPAN_CORRUPTION``, recorded after each seed."""
    runs = []
    for seed in seeds:
        runs.append(span_corruption_run(seed))
        record_span_corruption(record, runs)


def span_corruption_run(seed: int) -> dict[str, Any]:
    """One seed with ``SPAN_CORRUPTION``: exact match, and the pretraining's loss and token accuracy per pass
    (did it learn?)."""
    result = run_recipe("t5", seed=seed, **SPAN_CORRUPTION)
    history = result.trained.pretraining_history
    return {"seed": seed, "test_exact_match": result.metrics["test_exact_match"],
            "pretraining_per_pass": {k: [round(v, 4) for v in history[k]] for k in ("loss", "accuracy")},
            "wall_seconds": round(result.wall_seconds, 1)}


def record_span_corruption(record: BenchRecord, runs: Sequence[dict[str, Any]]) -> None:
    """``runs`` (of :func:`span_corruption_run`) under ``span_corruption``, beside the default runs of the same
    seeds."""
    pretrained_seeds = {run["seed"] for run in runs}
    with_pretraining = seed_stats([run["test_exact_match"] for run in runs])
    without = seed_stats([run["metrics"]["test_exact_match"] for run in record.payload["runs"]
                          if run["seed"] in pretrained_seeds])
    record.add("span_corruption", {
        "overrides": SPAN_CORRUPTION, "test_exact_match": with_pretraining, "runs": list(runs),
        "mean_minus_no_pretraining_same_seeds": round(with_pretraining["mean"] - without["mean"], 4),
    })


def speed(result: RunResult) -> dict[str, Any]:
    """Exported vs eager generation on one batch of the run's own test articles."""
    trained, max_input_length = result.trained, result.config["max_input_length"]
    batch = T5(T5.Config()).load_data().test[0][:BATCH]
    trained.model.compile(sampler="greedy")

    def eager():
        ids, mask = trained.vocab.encode(tf.constant(batch), max_input_length, trained.tokenizer)
        tokens = keras_hub_greedy(trained.model, ids.numpy(), mask.numpy(), result.config["max_decode_length"])
        return trained.vocab.decode(tokens, trained.tokenizer).numpy()

    graph = tf.Graph()
    # Not ``with Session(...)``: that also makes the graph the default, and the eager side must run outside it.
    with contextlib.closing(tf.compat.v1.Session(graph=graph)) as session:
        with graph.as_default():
            signature = session_load(session, result.export.path).signature_def["serving_default"]
        fetch, feed = signature.outputs["text"].name, signature.inputs["text"].name

        def exported():
            return session.run(fetch, {feed: batch})

        eager(), exported()  # warm up both (tracing, first-run allocations)
        eager_times, exported_times = [], []
        for _ in range(ROUNDS):
            seconds, eager_out = timed(eager)
            eager_times.append(seconds)
            seconds, exported_out = timed(exported)
            exported_times.append(seconds)
    eager_rate = BATCH / statistics.median(eager_times)
    exported_rate = BATCH / statistics.median(exported_times)
    return {
        "batch": BATCH, "rounds": ROUNDS,
        "exported_texts_per_second": round(exported_rate, 2),
        "eager_keras_hub_texts_per_second": round(eager_rate, 2),
        "outputs_equal": int(sum(a == b for a, b in zip(exported_out.tolist(), eager_out.tolist()))),
        "exported_vs_eager_keras_hub_generation": round(exported_rate / eager_rate, 2),
    }
