"""Clustering quality against known labels: Hungarian-matched accuracy, NMI, ARI.

Example:

>>> import numpy as np
>>> labels = np.array([0, 0, 1, 1, 2, 2])
>>> clusters = np.array([2, 2, 0, 0, 1, 0])          # cluster ids are arbitrary; one point is wrong
>>> round(cluster_metrics(labels, clusters)["accuracy"], 4)
0.8333
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def matched_accuracy(labels: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy under the one-to-one cluster→label mapping that maximises it (Hungarian algorithm)."""
    labels, clusters = np.asarray(labels, np.int64), np.asarray(clusters, np.int64)
    size = int(max(labels.max(), clusters.max())) + 1
    counts = np.zeros((size, size), np.int64)
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def cluster_metrics(labels: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """``accuracy`` (Hungarian-matched), ``nmi`` and ``ari`` of cluster ids against true labels."""
    return {
        "accuracy": matched_accuracy(labels, clusters),
        "nmi": float(normalized_mutual_info_score(labels, clusters)),
        "ari": float(adjusted_rand_score(labels, clusters)),
    }
