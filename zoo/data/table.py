"""What every reader returns: named columns of equal length, and where they were read from.

A reader is asked for *roles* (``text``, ``label``, ``image``, ``source``, ``target``) and fills each from the
column the config names for it (``text_column``...) or, for sources whose layout says what is what (class
folders, ``.npz``), from that layout. Columns are NumPy arrays: texts and string labels as ``object`` arrays of
``str``, integer labels as ``int64``, images as ``uint8`` [N, H, W] (one channel) or [N, H, W, 3].

Example:

>>> import numpy as np
>>> table = Table({"text": np.array(["a", "b"], dtype=object)}, Origin("toy.csv", "csv", "00" * 32))
>>> len(table), table.origin.to_dict()["kind"]
(2, 'csv')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

#: What a recipe can ask a source for.
ROLES = ("text", "label", "image", "source", "target")


def object_array(values: list) -> np.ndarray:
    """A 1-D ``object`` array holding ``values`` as they are (NumPy would turn a list of strings into a fixed-width
    ``<U`` array, padding every string to the longest one).

    >>> object_array(["a", "bcd"]).dtype
    dtype('O')
    """
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a table came from: ``path`` (or a name such as ``tfds:mnist``), the ``kind`` of source, the sha256
    of the file (for a folder: of its manifest, one ``relative/path<TAB>sha256`` line per file, sorted), and how
    many files were read."""

    path: str
    kind: str
    sha256: str | None = None
    files: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Table:
    """Columns by role, all of one length."""

    columns: Mapping[str, np.ndarray]
    origin: Origin

    def __post_init__(self) -> None:
        lengths = {name: len(values) for name, values in self.columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns of different lengths: {lengths}")

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, role: str) -> np.ndarray:
        return self.columns[role]

    def take(self, rows: np.ndarray) -> "Table":
        """The rows at ``rows`` (an index array), in that order."""
        return Table({name: values[rows] for name, values in self.columns.items()}, self.origin)
