"""kmeans: the default (autoencoder codes + manifold step) over seeds against the bars (on the mean), and raw pixels
(KMeans on the pixels themselves, no manifold step: the reference point, first seed only), each run checked for
exported assignments equal to scikit-learn's ``KMeans.predict`` on the whole MNIST test set.

The exported model is run the way TF Serving runs it (TF1 session loader) on all 10,000 test images;
scikit-learn predicts on the points the trained feature model computes (``RunResult.trained``).

    python -m bench kmeans [--seeds N]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

import zoo
from bench.common import BenchRecord, run_recipe
from zoo.export.session import session_load

DEFAULT_SEEDS = 3


def served_clusters(version_dir: Path, images: np.ndarray) -> np.ndarray:
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        signature = session_load(session, version_dir).signature_def["serving_default"]
        return session.run(signature.outputs["cluster"].name, {signature.inputs["images"].name: images})


def run_features(**overrides: Any) -> dict[str, Any]:
    result = run_recipe("kmeans", **overrides)
    trained = result.trained
    kmeans = zoo.get_recipe("kmeans")
    x_test = kmeans(kmeans.Config(**result.config)).load_data().test[0]  # the images the run was tested on
    expected = trained.kmeans.predict(trained.points(x_test))
    served = served_clusters(result.export.path, x_test)
    return {
        "metrics": result.metrics,
        "export_equals_sklearn_predict": bool(np.array_equal(served, expected)),
        "assignments_differing": int(np.sum(served != expected)),
        "test_images_compared": len(x_test),
        "wall_seconds": round(result.wall_seconds, 1),
    }


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    record.describe("config", {k: v for k, v in zoo.get_recipe("kmeans").Config().to_dict().items() if k != "seed"})
    for seed in seeds:
        record.add_run(seed, run_features(seed=seed))
    # the bars are stated for autoencoder codes; pixels are reported beside them
    record.add("raw_pixels", run_features(seed=seeds[0], features="pixels", manifold_components=0))
