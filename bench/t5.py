"""t5: the default run's exact match on BBC test articles, and exported vs eager KerasHub generation speed.

Speed ratio: texts per second of the exported ``serving_default`` (loaded with the TF1 session loader, as TF
Serving loads it; tokenization, greedy decoding and detokenization in the graph) vs the same trained model
generating eagerly through KerasHub (``T5Seq2SeqLM.generate`` with a greedy sampler on the same tokenized
inputs, then detokenized), on the same test articles, alternating, same run. Outputs are compared too.

Exact match over seeds (3 by default: a run takes about 10 minutes on 2 cores); speed on the first seed's model.

    python -m bench t5 [--seeds N]
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

import zoo
from bench.common import BenchRecord, run_entry
from recipes.t5 import T5, classification_pairs
from zoo.export.session import session_load
from zoo.text.greedy_decode import keras_hub_greedy

DEFAULT_SEEDS = 3
BATCH = 32
ROUNDS = 3


class KeptT5(T5):
    """The t5 recipe, keeping its trained model for the eager side of the comparison."""

    def evaluate(self, model, splits):
        self.model, self.splits = model, splits
        return super().evaluate(model, splits)


def timed(fn) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    for seed in seeds:
        scratch = Path(tempfile.mkdtemp(prefix="zoo-bench-t5-"))
        run_recipe = KeptT5(T5.Config(seed=seed), run_dir=scratch / "run")
        run_result = run_recipe.run(export_dir=scratch / "exports")
        if seed == seeds[0]:
            recipe, result = run_recipe, run_result
            record.add("config", {k: v for k, v in result.config.items() if k != "seed"})
        record.add_run(seed, run_entry(run_result))
    record.add("speed", speed(recipe, result))


def speed(recipe: KeptT5, result) -> dict[str, Any]:
    texts, _ = classification_pairs(*recipe.splits.test, recipe.splits.label_names)
    batch = np.array(texts[:BATCH], dtype=object)
    model, cfg = recipe.model, recipe.config
    model.compile(sampler="greedy")

    def eager():
        ids, mask = recipe.vocab.encode(tf.constant(batch), cfg.max_input_length, recipe.tokenizer)
        tokens = keras_hub_greedy(model, ids.numpy(), mask.numpy(), cfg.max_decode_length)
        return recipe.vocab.decode(tokens, recipe.tokenizer).numpy()

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
