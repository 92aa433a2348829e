"""t5: the default run's exact match on BBC test articles, the same recipe learning BBC headlines from article bodies
(ROUGE against a lead baseline), and exported vs eager KerasHub generation speed.

Speed (``speed``, on the first seed's model before the other seeds train), on :mod:`bench.timing`'s protocol: two
engines, each in a worker process of its own, generate from the same 32 BBC test articles. ``export`` is the
exported ``serving_default`` loaded with the TF1 session loader as TF Serving loads it (tokenization, greedy decoding
and detokenization in the graph); ``keras_hub`` is the same trained model generating eagerly through KerasHub
(``T5Seq2SeqLM.generate`` with a greedy sampler on the texts tokenized by the run's vocabulary, then detokenized),
loaded from what the parent kept in a scratch directory: the model as Keras saves it (``model.keras``) and the run's
SentencePiece vocabulary (``spm.model``, as the recipe keeps it in its run directory). One warm-up call each, not
counted, then 3 rounds alternating between the engines (the export first). Recorded: each engine's median seconds
with min and max, texts per second from the medians, their ratio (export over KerasHub), how many of the 32
generated texts are equal, and each worker's libraries and threads.

Exact match over seeds (3 by default: a run takes about 10 minutes on 2 cores). Then the same seeds with
``HEADLINES`` (``source_column=body``, ``target_column=headline``: the first line of each BBC file is its headline):
ROUGE-1/2/L of the generated headlines, beside the lead baseline (the body's first N words, N the training
headlines' mean length in words) on the same test articles. Span-corruption pretraining has its own bench,
``python -m bench t5_span_corruption``.

    python -m bench t5 [--seeds N]

This module is also the workers' program (``python -m bench.t5 ENGINE PATH [ARGUMENT ...]``): its top level imports
neither TensorFlow nor Keras, and each function imports what it needs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from bench import timing
from zoo.models.text.rouge import rouge

if TYPE_CHECKING:
    from bench.common import BenchRecord
    from recipes.t5 import T5Trained
    from zoo.recipe import RunResult

DEFAULT_SEEDS = 3
HEADLINES = {"source_column": "body", "target_column": "headline"}
ROUGE_KINDS = ("rouge1", "rouge2", "rougeL")
BATCH = 32
ROUNDS = 3
WARM_UP_CALLS = 1
MODEL = "model.keras"  # the keras_hub worker's model, as Keras saves it
VOCABULARY = "spm.model"  # the keras_hub worker's SentencePiece vocabulary, as the recipe keeps it


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    from bench.common import run_seeds

    record.add("speed", speed(run_seeds(record, seeds[:1])))  # the first seed's model, before the next seeds train
    run_seeds(record, seeds[1:])
    headlines(record, seeds)


def headlines(record: BenchRecord, seeds: Sequence[int]) -> None:
    """The seeds again with ``HEADLINES``, recorded after each seed with the lead baseline beside them."""
    from bench.common import run_recipe, seed_stats
    from recipes.t5 import T5

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


# ------------------------------------------------------------------------------ the workers (one engine each)
def texts_of(strings: np.ndarray) -> list[str]:
    """Generated texts (bytes [batch]) as strings, for the reply.

    >>> texts_of(np.array([b"sport", b"tech"], dtype=object))
    ['sport', 'tech']
    """
    return [text.decode("utf-8", errors="replace") for text in strings]


def export_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """``generate``: the export's ``serving_default`` (text → generated text), loaded with the TF1 session loader as
    TF Serving loads it."""
    from zoo.export.session import SessionModel

    model = SessionModel(version_dir)

    def generate(texts: list[str]) -> list[str]:
        return texts_of(model.run("serving_default", {"text": np.array(texts, dtype=object)}, ["text"])["text"])

    return {"generate": generate}


def keras_hub_handlers(folder: str, num_sentinels: str, max_input_length: str,
                       max_new_tokens: str) -> dict[str, Callable[..., Any]]:
    """``generate`` eagerly through KerasHub on what :func:`keep_eager_side` kept in ``folder``: the texts tokenized
    by the run's vocabulary, ``T5Seq2SeqLM.generate`` with a greedy sampler
    (:func:`zoo.models.text.t5_decoding.keras_hub_greedy`), the tokens detokenized."""
    import keras
    import keras_hub  # noqa: F401  (registers T5Seq2SeqLM, for loading)
    import tensorflow as tf

    from zoo.models.text.sentencepiece_vocab import SentencePieceVocab
    from zoo.models.text.t5_decoding import keras_hub_greedy

    vocab = SentencePieceVocab.load(Path(folder) / VOCABULARY, int(num_sentinels))
    tokenizer = vocab.tokenizer()
    model = keras.saving.load_model(Path(folder) / MODEL, compile=False)
    model.compile(sampler="greedy")

    def generate(texts: list[str]) -> list[str]:
        ids, mask = vocab.encode(tf.constant(texts), int(max_input_length), tokenizer)
        tokens = keras_hub_greedy(model, ids.numpy(), mask.numpy(), int(max_new_tokens))
        return texts_of(vocab.decode(tokens, tokenizer).numpy())

    return {"generate": generate}


WORKERS = {"export": export_handlers, "keras_hub": keras_hub_handlers}


# ------------------------------------------------------------------------------ the parent
def speed_texts() -> list[str]:
    """The first :data:`BATCH` test articles of the default config's split."""
    from recipes.t5 import T5

    return [str(text) for text in T5(T5.Config()).load_data().test[0][:BATCH]]


def keep_eager_side(trained: T5Trained, folder: Path) -> Path:
    """What the ``keras_hub`` worker loads, written into ``folder``: the trained model as Keras saves it and the run's
    vocabulary."""
    trained.model.save(folder / MODEL)
    trained.vocab.save(folder / VOCABULARY)
    return folder


def compared(timed: dict[str, timing.Timed], texts: Sequence[str], rounds: int) -> dict[str, Any]:
    """Each engine's seconds (median, min, max) and texts per second, the ratio (export over KerasHub) and how many
    generated texts are equal."""
    seconds = {name: timing.spread(t.seconds) for name, t in timed.items()}
    return {
        "batch": len(texts), "rounds": rounds, "warm_up_calls": WARM_UP_CALLS, "seconds": seconds,
        "exported_texts_per_second": round(len(texts) / seconds["export"]["median"], 2),
        "eager_keras_hub_texts_per_second": round(len(texts) / seconds["keras_hub"]["median"], 2),
        "outputs_equal": sum(a == b for a, b in zip(timed["export"].last, timed["keras_hub"].last)),
        "exported_vs_eager_keras_hub_generation": round(timing.speedup(seconds, "export", "keras_hub"), 2),
    }


def speed(result: RunResult, rounds: int = ROUNDS) -> dict[str, Any]:
    """The run's export against its trained model generating eagerly through KerasHub, each engine in a worker of its
    own, ``rounds`` alternating rounds over :func:`speed_texts`: :func:`compared`'s figures, the load average and
    each worker's process description."""
    texts, config = speed_texts(), result.config
    with tempfile.TemporaryDirectory(prefix="zoo-bench-t5-") as scratch:
        kept = keep_eager_side(result.trained, Path(scratch))
        with timing.engine_worker("bench.t5", "export", result.export.path) as export, \
                timing.engine_worker("bench.t5", "keras_hub", kept, str(result.trained.vocab.num_sentinels),
                                     str(config["max_input_length"]), str(config["max_new_tokens"])) as keras_hub:
            workers = {"export": export, "keras_hub": keras_hub}
            timed = timing.alternating_rounds(workers, "generate", {"texts": texts}, rounds, WARM_UP_CALLS)
            described = {"load_average": timing.load_average(), "processes": timing.processes(workers)}
    return {**compared(timed, texts, rounds), **described}


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.t5 ENGINE PATH [ARGUMENT ...]`` serves ENGINE's ``generate``
    (:mod:`bench.timing`)."""
    timing.serve_engine(WORKERS, argv if argv is not None else sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
