"""lstm: the default run over seeds against its bar (BBC test accuracy ≥ 0.96 on the mean, no seed below 0.95),
and a TF-IDF + logistic-regression baseline fitted on the same training split in the same run (goal: the BiLSTM's
mean within 1 point of it). About 8 minutes a seed on 2 quiet cores.

    python -m bench lstm --seeds 5
"""

from __future__ import annotations

import time
from typing import Any, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bench.common import BenchRecord, run_seeds
from zoo.data.bbc_news import load_bbc_news

DEFAULT_SEEDS = 3
GOAL_GAP = 0.01
SEED_FLOOR = 0.95  # no seed's test accuracy below this


def tfidf_baseline() -> dict[str, Any]:
    """TF-IDF (word uni+bigrams, sublinear tf) + logistic regression: trained on train, scored on test."""
    started = time.perf_counter()
    splits = load_bbc_news()
    model = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        LogisticRegression(C=10.0, max_iter=2000),
    )
    model.fit(list(splits.train[0]), splits.train[1])
    accuracy = float((model.predict(list(splits.test[0])) == splits.test[1]).mean())
    return {"test_accuracy": accuracy, "wall_seconds": round(time.perf_counter() - started, 1)}


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    record.add("tfidf_logreg", tfidf_baseline())
    run_seeds(record, seeds)
    judge(record)


def judge(record: BenchRecord) -> None:
    """The seed floor and the goal, from the seeds recorded so far and the baseline."""
    accuracy = record.payload["metrics"]["test_accuracy"]
    gap = record.payload["tfidf_logreg"]["test_accuracy"] - accuracy["mean"]
    record.add("seed_floor", {"test_accuracy >=": SEED_FLOOR, "met": accuracy["min"] >= SEED_FLOOR})
    record.add("gap_to_baseline", round(gap, 4))
    record.add("goal_within_1_point", gap <= GOAL_GAP)
