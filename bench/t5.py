"""t5: the default run's exact match on BBC test articles, and exported vs eager KerasHub generation speed.

Speed ratio: texts per second of the exported ``serving_default`` (loaded with the TF1 session loader, as TF
Serving loads it; tokenization, greedy decoding and detokenization in the graph) vs the same trained model
generating eagerly through KerasHub (``T5Seq2SeqLM.generate`` with a greedy sampler on the same tokenized
inputs, then detokenized), on the same test articles, alternating, same run. Outputs are compared too.

    python -m bench t5          # or: python -m bench.t5
"""

from __future__ import annotations

import contextlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

import zoo
from bench.common import RESULTS_DIR, recipe_result, write_result
from recipes.t5 import T5, classification_pairs
from zoo.export.session import session_load
from zoo.text.greedy_decode import keras_hub_greedy

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


def run(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="zoo-bench-t5-"))
    recipe = KeptT5(T5.Config(), run_dir=scratch / "run")
    result = recipe.run(export_dir=scratch / "exports")
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
        **recipe_result(result),
        "speed": {
            "batch": BATCH, "rounds": ROUNDS,
            "exported_texts_per_second": round(exported_rate, 2),
            "eager_keras_hub_texts_per_second": round(eager_rate, 2),
            "outputs_equal": int(sum(a == b for a, b in zip(exported_out.tolist(), eager_out.tolist()))),
        },
        "ratio": {"exported_vs_eager_keras_hub_generation": round(exported_rate / eager_rate, 2)},
    }


if __name__ == "__main__":
    path = write_result("t5", run(RESULTS_DIR))
    print(path.read_text())
