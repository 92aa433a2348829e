"""Train / validation / test arrays with a record of where they came from."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Provenance:
    """Where data came from: a human-readable source and the sha256 of the file read (None for tfds)."""

    source: str
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Splits:
    """Arrays for training and evaluation: each split is ``(features, labels)``.

    Example:

    >>> import numpy as np
    >>> s = Splits(train=(np.zeros((10, 2)), np.arange(10)), test=(np.ones((3, 2)), np.arange(3)),
    ...            label_names=("a", "b"), provenance=Provenance("toy"))
    >>> s.capped(4).train[1].tolist()
    [0, 1, 2, 3]
    >>> s.hold_out(2).validation[1].tolist(), len(s.hold_out(2).train[1])
    ([8, 9], 8)
    """

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    label_names: tuple[str, ...]
    provenance: Provenance
    validation: tuple[np.ndarray, np.ndarray] | None = None

    def capped(self, max_examples: int) -> "Splits":
        """At most ``max_examples`` training examples (0 keeps all); other splits are capped alike."""
        if max_examples <= 0:
            return self

        def cap(split):
            return None if split is None else (split[0][:max_examples], split[1][:max_examples])

        return dataclasses.replace(self, train=cap(self.train), validation=cap(self.validation), test=cap(self.test))

    def hold_out(self, count: int) -> "Splits":
        """Move the last ``count`` training examples to the validation split (0 leaves no validation split)."""
        if count <= 0:
            return dataclasses.replace(self, validation=None)
        x, y = self.train
        if count >= len(y):
            raise ValueError(f"cannot hold out {count} of {len(y)} training examples")
        return dataclasses.replace(self, train=(x[:-count], y[:-count]), validation=(x[-count:], y[-count:]))
