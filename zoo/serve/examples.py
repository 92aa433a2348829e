"""JSON examples (``{"feature": value | [values]}``) as ``tf.train.Example``, as TF Serving's REST API reads them.

A JSON string or ``{"b64": ...}`` becomes a bytes_list, a number with a decimal point a float_list, an
integer an int64_list, and a bool an int64 (0/1).

Example:

>>> example_from_json({"age": 25, "height": 5.5, "name": "x"}).features.feature["age"].int64_list.value
[25]
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from zoo.serve.errors import invalid
from zoo.serve.json_codec import as_float, decode_b64, is_b64_object


def _kind(value: Any) -> str:
    if isinstance(value, str) or is_b64_object(value):
        return "bytes"
    if isinstance(value, float):
        return "float"
    if isinstance(value, int):  # bool included
        return "int64"
    raise invalid(f"feature values must be strings, numbers or booleans, got {type(value).__name__}")


def feature_from_json(name: str, value: Any) -> tf.train.Feature:
    values = value if isinstance(value, list) else [value]
    kinds = {_kind(v) for v in values}
    if kinds == {"float", "int64"}:
        kinds = {"float"}  # 1 and 1.5 in one list: a float list
    if len(kinds) > 1:
        raise invalid(f"feature {name!r} mixes strings and numbers")
    kind = kinds.pop() if kinds else "float"
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[decode_b64(v) if isinstance(v, dict) else v.encode("utf-8", "surrogatepass") for v in values]))
    if kind == "float":
        return tf.train.Feature(float_list=tf.train.FloatList(value=[as_float(v) for v in values]))
    if any(not -(2**63) <= int(v) < 2**63 for v in values):
        raise invalid(f"feature {name!r}: a value is out of int64 range")
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def example_from_json(value: Any) -> tf.train.Example:
    """One JSON object of features as a ``tf.train.Example``; INVALID_ARGUMENT if it is not one."""
    if not isinstance(value, dict):
        raise invalid("each example (and the context) must be a JSON object of features")
    return tf.train.Example(features=tf.train.Features(
        feature={name: feature_from_json(name, v) for name, v in value.items()}))
