"""Unbalanced classes: per-class loss weights, and a warning when one class dwarfs another.

``class_weight=balanced`` weights each class by ``n_examples / (n_classes * n_of_that_class)`` (scikit-learn's
"balanced"), so every class carries the same total weight in the loss. ``auto`` (the default) does so only when
the largest class has at least :data:`IMBALANCE` times the examples of the smallest, and says so; ``none`` never.

Example:

>>> import numpy as np
>>> class_weights(np.array([0, 0, 0, 0, 0, 0, 1, 1]), ("ok", "fraud"), "balanced", "demo")
{0: 0.6667, 1: 2.0}
>>> class_weights(np.array([0, 0, 1, 1]), ("a", "b"), "auto", "demo") is None
True
"""

from __future__ import annotations

import sys

import numpy as np

IMBALANCE = 3.0


def class_weights(labels: np.ndarray, label_names: tuple[str, ...], mode: str, recipe: str) -> dict[int, float] | None:
    """``{class id: weight}`` for Keras ``fit``'s ``class_weight``, or None for unweighted training."""
    counts = np.bincount(labels, minlength=len(label_names))
    present = counts[counts > 0]
    ratio = present.max() / present.min() if len(present) else 1.0
    unbalanced = ratio >= IMBALANCE
    if mode == "none" or (mode == "auto" and not unbalanced):
        if unbalanced:
            warn_unbalanced(counts, label_names, recipe, "class_weight=none: training unweighted")
        return None
    weights = {i: round(float(len(labels) / (len(present) * n)), 4) for i, n in enumerate(counts) if n}
    if mode == "auto":
        warn_unbalanced(counts, label_names, recipe, "weighting the loss by class (class_weight=balanced; "
                                                     "class_weight=none turns it off)")
    return weights


def warn_unbalanced(counts: np.ndarray, label_names: tuple[str, ...], recipe: str, action: str) -> None:
    """One line on stderr: the largest and smallest class, and what the recipe does about it."""
    largest, smallest = int(np.argmax(counts)), int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))
    print(f"{recipe}: unbalanced classes: {label_names[largest]!r} has {counts[largest]} training examples, "
          f"{label_names[smallest]!r} {counts[smallest]}; {action}", file=sys.stderr)
