"""TF Serving's JSON tensor encoding: JSON values ⇄ numpy arrays of a signature's dtypes.

Decoding is strict as TF Serving is: integer dtypes need JSON integers, bool needs ``true``/``false``, strings
take a JSON string or ``{"b64": "..."}``, and lists must be rectangular. Encoding writes floats as the shortest
text that round-trips (``2.5``, ``3.0``), ``NaN``/``Infinity`` as tokens, and string outputs whose name ends in
``_bytes`` as ``{"b64": ...}``.

Example:

>>> import numpy as np, tensorflow as tf
>>> decode_tensor([[1, 2], [3, 4]], tf.int32, "x").tolist()
[[1, 2], [3, 4]]
>>> encode_tensor(np.array([2.5, 3.0, 4.5], np.float32))
'[2.5, 3.0, 4.5]'
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from zoo.serve.errors import ServingError, invalid
from zoo.serve.limits import MAX_RANK


def parse_json(body: bytes) -> Any:
    """Parse a request body (``NaN``/``Infinity`` allowed); INVALID_ARGUMENT with TF Serving's wording."""
    if not body.strip():
        raise invalid("JSON Parse error: The document is empty")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, int digit limit, deep nesting
        raise invalid(f"JSON Parse error: {exc}") from None


def is_b64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def decode_b64(value: dict) -> bytes:
    text = value["b64"]
    if not isinstance(text, str):
        raise invalid("'b64' value must be a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"Unable to base64 decode: {text[:64]!r}") from None


def _string_leaf(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if is_b64_object(value):
        return decode_b64(value)
    raise invalid(f"expected a string or {{\"b64\": ...}}, got {json.dumps(value)[:64]}")


def _float_leaf(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(f"expected a number, got {json.dumps(value)[:64]}")
    return as_float(value)


def as_float(value: int | float) -> float:
    """``float(value)``, INVALID_ARGUMENT for an integer beyond the double range."""
    try:
        return float(value)
    except OverflowError:
        raise invalid(f"number {str(value)[:32]}... is out of range for a double") from None


def _int_leaf(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"expected an integer, got {json.dumps(value)[:64]}")
    return value


def _bool_leaf(value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid(f"expected true or false, got {json.dumps(value)[:64]}")
    return value


def _leaf_reader(dtype: tf.DType) -> Callable[[Any], Any]:
    if dtype == tf.string:
        return _string_leaf
    if dtype == tf.bool:
        return _bool_leaf
    if dtype.is_floating:
        return _float_leaf
    if dtype.is_integer:
        return _int_leaf
    raise ServingError("UNIMPLEMENTED", f"JSON conversion of {dtype.name} tensors is not supported")


def _flatten(value: Any, leaf: Callable[[Any], Any], depth: int = 0) -> tuple[tuple[int, ...], list]:
    """Shape and row-major leaves of a nested list; INVALID_ARGUMENT if it is not rectangular or too deep."""
    if not isinstance(value, list):
        return (), [leaf(value)]
    if depth >= MAX_RANK:
        raise invalid(f"lists are nested more than {MAX_RANK} levels deep")
    if not any(isinstance(item, list) for item in value):  # innermost list: no per-leaf tuples
        return (len(value),), [leaf(item) for item in value]
    parts = [_flatten(item, leaf, depth + 1) for item in value]
    shape = parts[0][0]
    if any(part[0] != shape for part in parts):
        raise invalid("tensor lists must be rectangular: elements of one list differ in shape")
    return (len(value), *shape), [x for part in parts for x in part[1]]


def declared_shape(value: Any) -> tuple[int, ...]:
    """The shape a nested list declares through its first elements (at most ``MAX_RANK`` + 1 levels are read).

    Cheap, so a request's cost can be checked before it is decoded; ``decode_tensor`` checks the rest.

    >>> declared_shape([[1, 2, 3], [4, 5, 6]]), declared_shape("x"), declared_shape([])
    ((2, 3), (), (0,))
    """
    shape: list[int] = []
    while isinstance(value, list) and len(shape) <= MAX_RANK:
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(shape)


def decode_tensor(value: Any, dtype: tf.DType, name: str) -> np.ndarray:
    """A JSON value (scalar or nested list) as an array of ``dtype``; INVALID_ARGUMENT if it does not fit."""
    try:
        shape, leaves = _flatten(value, _leaf_reader(dtype))
    except ServingError as exc:
        raise ServingError(exc.code, f"input {name!r}: {exc.message}") from None
    if dtype == tf.string:
        return np.array(leaves, dtype=object).reshape(shape)
    np_dtype = dtype.as_numpy_dtype
    if dtype.is_integer and leaves and (min(leaves) < dtype.min or max(leaves) > dtype.max):
        raise invalid(f"input {name!r}: a value is out of range for {dtype.name}")
    with np.errstate(over="ignore"):  # a finite double beyond float32 range becomes inf, as in TF Serving
        return np.array(leaves, dtype=np_dtype).reshape(shape)


def _format_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return str(value)


def _cells(array: np.ndarray, as_b64: bool) -> list[str]:
    """Every element of ``array`` as JSON text, row-major."""
    flat = array.ravel()
    if array.dtype == object or array.dtype.kind in "SU":
        if as_b64:
            return [json.dumps({"b64": base64.b64encode(_as_bytes(v)).decode("ascii")}) for v in flat]
        return [json.dumps(_as_bytes(v).decode("utf-8", "replace"), ensure_ascii=False) for v in flat]
    if array.dtype.kind == "b":
        return ["true" if v else "false" for v in flat.tolist()]
    if array.dtype.kind in "iu":
        return [str(v) for v in flat.tolist()]
    if array.dtype.kind == "f":
        if array.dtype.itemsize == 8:
            return [_format_float(v) for v in flat.tolist()]  # Python's repr is the shortest round trip
        return [_format_float(v) if not math.isfinite(v) else str(v) for v in flat.astype(np.float32)]
    raise ServingError("UNIMPLEMENTED", f"JSON conversion of {array.dtype} tensors is not supported")


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def _nest(cells: list[str], shape: tuple[int, ...], start: int) -> str:
    if not shape:
        return cells[start]
    step = int(np.prod(shape[1:], dtype=np.int64))
    return "[" + ", ".join(_nest(cells, shape[1:], start + i * step) for i in range(shape[0])) + "]"


def encode_tensor(array: np.ndarray, as_b64: bool = False) -> str:
    """JSON text of ``array`` (nested lists; a scalar for rank 0)."""
    array = np.asarray(array)
    return _nest(_cells(array, as_b64), array.shape, 0)


def output_as_b64(name: str) -> bool:
    """TF Serving writes a string output as base64 when its name ends in ``_bytes``."""
    return name.endswith("_bytes")
