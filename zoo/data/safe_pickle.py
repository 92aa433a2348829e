"""Load pickles of NumPy arrays without letting the file run code or read memory it does not hold.

A pickle can name any importable callable and call it while loading, and NumPy's own constructors are
dangerous too: ``numpy.ndarray(shape, dtype, buffer, offset)`` with a negative offset reads the process
heap, and a crafted dtype state can describe fields outside its item. :class:`ArrayUnpickler` therefore
hands out none of NumPy's callables. It admits exactly the reconstruction that ``pickle.dumps(array,
protocol=2)`` writes (and the MNIST pickle holds):

* ``_reconstruct(ndarray, (0,), b"b")`` then ``BUILD (1, shape, dtype, is_fortran, raw_bytes)``;
* ``dtype(code, 0, 1)`` for a plain numeric ``code`` (bool, ints, floats), then ``BUILD`` with a state that
  names no fields, subarrays or sizes of its own;
* ``_codecs.encode(text, "latin1")`` and ``bytes()``, how Python 3 spells raw bytes in a protocol-2 pickle.

Each array is built from its own bytes (``np.frombuffer``), after checking that the shape's size times the
item size is exactly the number of bytes given. Anything else raises :class:`UnsafePickleError`.

Example:

>>> import io, pickle, numpy as np
>>> blob = pickle.dumps((np.arange(3, dtype=np.uint8), np.zeros(2)), protocol=2)
>>> a, b = load_arrays(io.BytesIO(blob))
>>> a.tolist(), b.dtype.name
([0, 1, 2], 'float64')
"""

from __future__ import annotations

import math
import pickle
from typing import IO, Any

import numpy as np

from zoo.errors import DataError

#: dtype codes an array may have: booleans, integers, floats (no objects, strings, records or subarrays).
NUMERIC_CODES = frozenset({"b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"})
_BYTE_ORDERS = frozenset({"<", ">", "|", "="})
_MAX_DIMENSION = 2**31 - 1
_MAX_NDIM = 32


class UnsafePickleError(DataError):
    """The pickle asked for something outside the NumPy array reconstruction this loader admits."""


def _refuse(what: str) -> UnsafePickleError:
    return UnsafePickleError(f"refusing to load pickle: {what}")


class _Admitted:
    """One admitted global: callable as the pickle needs it, and closed to ``BUILD`` (no state can be set on it)."""

    __slots__ = ("name", "_build")

    def __init__(self, name: str, build: Any) -> None:
        self.name, self._build = name, build

    def __call__(self, *args: Any) -> Any:
        return self._build(*args)

    def __setstate__(self, state: Any) -> None:
        raise _refuse(f"it sets state on {self.name}")


def _call_ndarray(*args: Any) -> Any:
    raise _refuse("it calls numpy.ndarray directly (buffer and offset arguments can read arbitrary memory); "
                  "only _reconstruct(ndarray, (0,), b'b') is allowed")


_NDARRAY = _Admitted("numpy.ndarray", _call_ndarray)


class _PendingDtype:
    """A dtype named by ``dtype(code, 0, 1)``; its ``BUILD`` state sets only the byte order."""

    __slots__ = ("dtype",)

    def __init__(self, code: Any, align: Any = False, copy: Any = True) -> None:
        if not isinstance(code, str) or code not in NUMERIC_CODES:
            raise _refuse(f"dtype {code!r} is not a plain numeric dtype ({', '.join(sorted(NUMERIC_CODES))})")
        if align not in (0, False) or copy not in (1, True):
            raise _refuse(f"dtype({code!r}, {align!r}, {copy!r}) is not how NumPy pickles a dtype")
        self.dtype = np.dtype(code)

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 8 and state[0] == 3 and state[1] in _BYTE_ORDERS
                and state[2:5] == (None, None, None) and state[5:] == (-1, -1, 0)):
            raise _refuse(f"dtype state {state!r:.200} sets more than a byte order (fields, subarrays or sizes)")
        self.dtype = self.dtype.newbyteorder(state[1])


class _PendingArray:
    """What ``_reconstruct`` returns: an array that ``BUILD`` fills from its state after checking it."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if self.array is not None:
            raise _refuse("it sets an array's state twice")
        if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1):
            raise _refuse(f"array state {state!r:.200} is not (1, shape, dtype, is_fortran, bytes)")
        _, shape, dtype, is_fortran, raw = state
        if not isinstance(dtype, _PendingDtype):
            raise _refuse(f"array dtype {dtype!r:.100} was not built by the admitted dtype constructor")
        if not (isinstance(shape, tuple) and len(shape) <= _MAX_NDIM
                and all(type(n) is int and 0 <= n <= _MAX_DIMENSION for n in shape)):
            raise _refuse(f"array shape {shape!r:.200} is not a tuple of at most {_MAX_NDIM} sizes in "
                          f"0..{_MAX_DIMENSION}")
        if is_fortran not in (True, False):
            raise _refuse(f"array order flag {is_fortran!r:.100} is not a bool")
        if isinstance(raw, str):  # a Python 2 str, read as latin-1
            raw = raw.encode("latin1")
        if not isinstance(raw, bytes):
            raise _refuse(f"array data is a {type(raw).__name__}, not bytes")
        expected = math.prod(shape) * dtype.dtype.itemsize
        if len(raw) != expected:
            raise _refuse(f"array of shape {shape} and dtype {dtype.dtype} needs {expected} bytes, the pickle "
                          f"holds {len(raw)}")
        flat = np.frombuffer(bytearray(raw), dtype=dtype.dtype)
        self.array = flat.reshape(shape, order="F" if is_fortran else "C")


def _reconstruct(cls: Any, shape: Any, typecode: Any) -> _PendingArray:
    if cls is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise _refuse(f"_reconstruct{(cls, shape, typecode)!r:.200} is not how NumPy pickles an ndarray")
    return _PendingArray()


def _latin1_bytes(text: Any, encoding: Any = None) -> bytes:
    if not isinstance(text, str) or encoding != "latin1":
        raise _refuse(f"_codecs.encode is admitted only as encode(text, 'latin1'), got encoding {encoding!r:.50}")
    return text.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise _refuse("bytes() is admitted only without arguments (how protocol 2 writes b'')")
    return b""


_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _Admitted("numpy.dtype", _PendingDtype),
    # NumPy 2 moved the module; pickles written by NumPy 1 (the MNIST file among them) name numpy.core.
    ("numpy.core.multiarray", "_reconstruct"): _Admitted("_reconstruct", _reconstruct),
    ("numpy._core.multiarray", "_reconstruct"): _Admitted("_reconstruct", _reconstruct),
    ("_codecs", "encode"): _Admitted("_codecs.encode", _latin1_bytes),
    ("__builtin__", "bytes"): _Admitted("bytes", _empty_bytes),
}


class ArrayUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and plain containers, and nothing else.

    Use :func:`load_arrays`: it also turns the reconstructed placeholders into arrays.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _refuse(
                f"it references {module}.{name}, which is not a NumPy array constructor "
                "(only numpy.ndarray, numpy.dtype and _reconstruct are allowed)"
            ) from None


def _resolve(value: Any, seen: set[int]) -> Any:
    """``value`` with every placeholder replaced by its array; only containers of plain values pass."""
    if isinstance(value, _PendingArray):
        if value.array is None:
            raise _refuse("an array was reconstructed but never given its state")
        return value.array
    if isinstance(value, _PendingDtype):
        return value.dtype
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return value
    if isinstance(value, (tuple, list, dict)):
        if id(value) in seen:
            raise _refuse("it holds a container that contains itself")
        seen.add(id(value))
        if isinstance(value, dict):
            resolved: Any = {_resolve(k, seen): _resolve(v, seen) for k, v in value.items()}
        else:
            resolved = type(value)(_resolve(item, seen) for item in value)
        seen.discard(id(value))
        return resolved
    raise _refuse(f"it holds a {type(value).__name__}, which is neither an array nor a plain container")


def load_arrays(stream: IO[bytes]) -> Any:
    """Unpickle ``stream`` with :class:`ArrayUnpickler` (Python 2 pickles are read as latin-1)."""
    try:
        return _resolve(ArrayUnpickler(stream, encoding="latin1").load(), set())
    except UnsafePickleError:
        raise
    except RecursionError:
        raise UnsafePickleError("refusing to load pickle: its containers nest too deeply") from None
    except Exception as exc:
        raise DataError(f"not a valid pickle of NumPy arrays: {type(exc).__name__}: {exc}") from None
