"""Load pickles of NumPy arrays without letting the file run code.

A pickle can name any importable callable and call it while loading. :class:`ArrayUnpickler` resolves
only the three globals NumPy needs to rebuild arrays (``ndarray``, ``dtype`` and ``_reconstruct``) and
refuses everything else before it is imported (``_codecs.encode`` is also allowed: protocol-2
pickles written by Python 3 store raw bytes through it).

Example:

>>> import io, pickle, numpy as np
>>> blob = pickle.dumps((np.arange(3, dtype=np.uint8), np.zeros(2)), protocol=2)
>>> a, b = load_arrays(io.BytesIO(blob))
>>> a.tolist(), b.dtype.name
([0, 1, 2], 'float64')
"""

from __future__ import annotations

import codecs
import pickle
from typing import IO, Any

import numpy as np

from zoo.errors import DataError

try:  # NumPy 2 moved the module; pickles written by NumPy 1 still name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1
    from numpy.core.multiarray import _reconstruct

_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    # Protocol-2 pickles written by Python 3 spell array bytes as _codecs.encode(text, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class UnsafePickleError(DataError):
    """The pickle asked for a global outside the NumPy array allowlist."""


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain containers, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load pickle: it references {module}.{name}, which is not a NumPy array "
                "constructor (only numpy.ndarray, numpy.dtype and _reconstruct are allowed)"
            ) from None


def load_arrays(stream: IO[bytes]) -> Any:
    """Unpickle ``stream`` with :class:`ArrayUnpickler` (Python 2 pickles are read as latin-1)."""
    try:
        return ArrayUnpickler(stream, encoding="latin1").load()
    except UnsafePickleError:
        raise
    except Exception as exc:
        raise DataError(f"not a valid pickle of NumPy arrays: {type(exc).__name__}: {exc}") from None
