"""lstm: the default run against its bar (BBC test accuracy ≥ 0.96) and a TF-IDF + logistic-regression baseline
fitted on the same training split in the same run (goal: the BiLSTM within 1 point of it).

    python -m bench lstm          # or: python -m bench.lstm
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bench.common import RESULTS_DIR, recipe_result, run_recipe, write_result
from zoo.data.bbc_news import load_bbc_news

GOAL_GAP = 0.01


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


def run(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    result = recipe_result(run_recipe("lstm"))
    baseline = tfidf_baseline()
    gap = baseline["test_accuracy"] - result["metrics"]["test_accuracy"]
    return {**result, "tfidf_logreg": baseline, "gap_to_baseline": round(gap, 4), "goal_within_1_point": gap <= GOAL_GAP}


if __name__ == "__main__":
    print(write_result("lstm", run()))
