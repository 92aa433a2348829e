"""t5: the default run's exact match on BBC test articles, the same recipe learning BBC headlines from article bodies
(ROUGE against a lead baseline), and exported vs eager KerasHub generation speed.

Speed ratio: texts per second of the exported ``serving_default`` (loaded with the TF1 session loader, as TF
Serving loads it; tokenization, greedy decoding and detokenization in the graph) vs the same trained model
generating eagerly through KerasHub (``T5Seq2SeqLM.generate`` with a greedy sampler on the same tokenized
inputs, then detokenized), on the same test articles, alternating, same run. Outputs are compared too.

Exact match over seeds (3 by default: a run takes about 10 minutes on 2 cores); speed on the first seed's model.
Then the same seeds with ``HEADLINES`` (``source_column=body``, ``target_column=headline``: the first line of each
BBC file is its headline): ROUGE-1/2/L of the generated headlines, beside the lead baseline (the body's first N
words, N the training headlines' mean length in words) on the same test articles. Span-corruption pretraining has
its own bench, ``python -m bench t5_span_corruption``.

    python -m bench t5 [--seeds N]
"""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Any, Sequence

import tensorflow as tf

from bench.common import BenchRecord, run_recipe, run_seeds, seed_stats
from recipes.t5 import T5
from zoo.models.text.rouge import rouge
from zoo.export.session import session_load
from zoo.recipe import RunResult
from zoo.models.text.t5_decoding import keras_hub_greedy

DEFAULT_SEEDS = 3
HEADLINES = {"source_column": "body", "target_column": "headline"}
ROUGE_KINDS = ("rouge1", "rouge2", "rougeL")
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
    headlines(record, seeds)


def headlines(record: BenchRecord, seeds: Sequence[int]) -> None:
    """The seeds again with ``HEADLINES``, recorded after each seed with the lead baseline beside them."""
    splits = T5(T5.Config(**HEADLINES)).load_data()
    baseline = lead_baseline(splits.train[1], splits.test[0], splits.test[1])
    runs = []
    for seed in seeds:
        result = run_recipe("t5", seed=seed, **HEADLINES)
        runs.append({"seed": seed, "metrics": result.metrics, "wall_seconds": round(result.wall_seconds, 1)})
        metrics = {name: seed_stats([r["metrics"][name] for r in runs]) for name in runs[0]["metrics"]}
        record.add("headlines", {
            "overrides": HEADLINES, "config": {k: v for k, v in result.config.items() if k != "seed"},
            "metrics": metrics, "lead_baseline": baseline, "runs": runs,
            "above_lead_baseline": {kind: metrics[f"test_{kind}"]["mean"] > baseline[f"test_{kind}"]
                                    for kind in ROUGE_KINDS},
        })


def lead_baseline(train_targets: Sequence[str], test_sources: Sequence[str], test_targets: Sequence[str]) -> dict:
    """ROUGE of the first N words of each test body, N the mean length in words of the training headlines.

    >>> lead_baseline(["two words", "and three words"], ["the cat sat down"], ["the cat"])["words"]
    2
    """
    words = round(statistics.fmean(len(str(t).split()) for t in train_targets))
    leads = [" ".join(str(s).split()[:words]) for s in test_sources]
    return {"words": words, **{f"test_{kind}": round(value, 4)
                               for kind, value in rouge(leads, [str(t) for t in test_targets]).items()}}


def speed(result: RunResult) -> dict[str, Any]:
    """Exported vs eager generation on one batch of the run's own test articles."""
    trained, max_input_length = result.trained, result.config["max_input_length"]
    batch = T5(T5.Config()).load_data().test[0][:BATCH]
    trained.model.compile(sampler="greedy")

    def eager():
        ids, mask = trained.vocab.encode(tf.constant(batch), max_input_length, trained.tokenizer)
        tokens = keras_hub_greedy(trained.model, ids.numpy(), mask.numpy(), result.config["max_new_tokens"])
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
