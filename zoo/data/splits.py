"""Train / validation / test splits: the deterministic stratified split, and the arrays recipes train on.

:func:`split_rows` cuts one table into parts by content, not by position, so the same examples land in the same
split whichever file, order or format they come in:

- within each label (stratum), the distinct examples are ranked by ``sha256("split", split_seed, content)`` and
  cut by the fractions: the first ``round(n * test_fraction)`` go to test, the next ``round(n *
  validation_fraction)`` to validation, the rest to training. Exact duplicates share one rank, so every copy of an
  example lands in one split: nothing in the test split was seen in training;
- :func:`ordered_rows` then orders each split by ``sha256("order", split_seed, content)``, which mixes the labels
  (so ``max_examples`` keeps a sample of every class) and does not depend on the order of the file.

Example:

>>> import numpy as np
>>> contents = [f"example {i}".encode() for i in range(10)]
>>> parts = split_rows(contents, np.array([0, 1] * 5), {"test": 0.2, "validation": 0.2}, seed=0)
>>> sorted((name, len(rows)) for name, rows in parts.items())
[('test', 2), ('train', 6), ('validation', 2)]
>>> s = Splits(train=(np.zeros((10, 2)), np.arange(10)), test=(np.ones((3, 2)), np.arange(3)),
...            label_names=("a", "b"), provenance=Provenance("toy"))
>>> s.capped(4).train[1].tolist()
[0, 1, 2, 3]
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Iterable, Mapping

import numpy as np

from zoo.data.table import Origin

SPLIT_NAMES = ("train", "validation", "test")


def content_hashes(contents: Iterable[bytes], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per content, the first 8 bytes of ``sha256("split" \0 seed \0 content)`` and of ``sha256("order" \0 seed \0
    content)``, as big-endian uint64 (so they sort as the hex digests do). ``contents`` is read once, so it can be a
    generator: no copy of the data is made to hash it."""
    split_prefix, order_prefix = f"split\0{seed}\0".encode(), f"order\0{seed}\0".encode()
    split, order = bytearray(), bytearray()
    for content in contents:
        split += hashlib.sha256(split_prefix + content).digest()[:8]
        order += hashlib.sha256(order_prefix + content).digest()[:8]
    return (np.frombuffer(bytes(split), dtype=">u8").astype(np.uint64),
            np.frombuffer(bytes(order), dtype=">u8").astype(np.uint64))


def split_rows(contents: Iterable[bytes], strata: np.ndarray | None, fractions: Mapping[str, float],
               seed: int) -> dict[str, np.ndarray]:
    """Row indices of each part: ``fractions`` maps ``"test"`` and/or ``"validation"`` to a share of each
    stratum's distinct examples; the rest is ``"train"``. Each part's rows are in :func:`ordered_rows` order."""
    ranks, orders = content_hashes(contents, seed)
    strata = np.zeros(len(ranks), np.int64) if strata is None else strata
    order = np.lexsort((np.arange(len(ranks)), ranks, strata))
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("train", *fractions)}
    boundaries = np.flatnonzero(np.diff(strata[order])) + 1
    for rows in np.split(order, boundaries):
        group_starts = np.concatenate([[True], np.diff(ranks[rows]) != 0])  # duplicates share a rank
        group = np.cumsum(group_starts) - 1
        groups = int(group[-1]) + 1 if len(group) else 0
        start = 0
        for name in ("test", "validation"):
            if name in fractions:
                count = round(groups * fractions[name])
                parts[name].append(rows[(group >= start) & (group < start + count)])
                start += count
        parts["train"].append(rows[group >= start])
    return {name: _by_order(np.concatenate(chunks) if chunks else np.array([], np.int64), orders)
            for name, chunks in parts.items()}


def ordered_rows(contents: Iterable[bytes], seed: int) -> np.ndarray:
    """Row indices sorted by ``sha256("order", seed, content)`` (ties by position)."""
    orders = content_hashes(contents, seed)[1]
    return _by_order(np.arange(len(orders)), orders)


def _by_order(rows: np.ndarray, orders: np.ndarray) -> np.ndarray:
    return rows[np.lexsort((rows, orders[rows]))]


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where data came from: ``source``, the training source as given (``data=``), with the sha256 of what it read
    (None for tfds); ``origins``, each source read by config key (``data``, ``validation_data``, ``test_data``);
    ``split``, how the parts no source provided were made."""

    source: str
    sha256: str | None = None
    origins: tuple[tuple[str, Origin], ...] = ()
    split: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        card: dict[str, Any] = {"source": self.source, "sha256": self.sha256}
        if self.origins:
            card["files"] = [{"key": key, **origin.to_dict()} for key, origin in self.origins]
        if self.split:
            card["split"] = dict(self.split)
        return card


@dataclasses.dataclass(frozen=True)
class Splits:
    """Arrays for training and evaluation: each split is ``(features, labels)``; ``labels`` is None for data
    without labels (an autoencoder's images, a language model's text). ``label_names`` are the classes, in the
    order of the label ids (empty when the labels are not classes)."""

    train: tuple[np.ndarray, np.ndarray | None]
    test: tuple[np.ndarray, np.ndarray | None]
    label_names: tuple[str, ...]
    provenance: Provenance
    validation: tuple[np.ndarray, np.ndarray | None] | None = None

    @property
    def feature_shape(self) -> tuple[int, ...]:
        """The shape of one example's features: ``()`` for text, ``(H, W)`` or ``(H, W, 3)`` for images."""
        return tuple(self.train[0].shape[1:])

    def capped(self, max_examples: int) -> "Splits":
        """At most ``max_examples`` training examples (0 keeps all); other splits are capped alike."""
        if max_examples <= 0:
            return self

        def cap(split):
            if split is None:
                return None
            features, labels = split
            return features[:max_examples], None if labels is None else labels[:max_examples]

        return dataclasses.replace(self, train=cap(self.train), validation=cap(self.validation), test=cap(self.test))

    def card(self) -> dict[str, Any]:
        """What the model card says about the data: its sources, row counts per split and the label names."""
        rows = {name: len(part[0]) for name, part in zip(SPLIT_NAMES, (self.train, self.validation, self.test))
                if part is not None}
        return {**self.provenance.to_dict(), "rows": rows, "label_names": list(self.label_names)}
