"""The REST ``:predict`` body: row (``instances``) and columnar (``inputs``) formats, both ways.

Example:

>>> import numpy as np, tensorflow as tf
>>> from tensorflow.core.protobuf import meta_graph_pb2
>>> signature = meta_graph_pb2.SignatureDef()
>>> signature.inputs["x"].dtype = tf.float32.as_datatype_enum
>>> feeds, row = decode_predict_request({"instances": [1.0, 2.0, 5.0]}, signature)
>>> feeds["x"].tolist(), row
([1.0, 2.0, 5.0], True)
>>> encode_predict_response({"y": np.array([2.5, 3.0, 4.5], np.float32)}, row)
'{"predictions": [2.5, 3.0, 4.5]}'
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from zoo.serve.errors import invalid
from zoo.serve.json_codec import declared_shape, decode_tensor, encode_tensor, is_b64_object, output_as_b64
from zoo.serve.limits import RequestLimits, check_signature_shape, string_bytes


def _dtypes(signature) -> dict[str, tf.DType]:
    return {name: tf.dtypes.as_dtype(info.dtype) for name, info in signature.inputs.items()}


def _stack(name: str, rows: list[np.ndarray]) -> np.ndarray:
    if any(row.shape != rows[0].shape for row in rows):
        raise invalid(f"The shape of every instance of input {name!r} must be the same; "
                      f"got {rows[0].shape} and {next(r.shape for r in rows if r.shape != rows[0].shape)}")
    return np.stack(rows)


def _check_cost(shapes: Mapping[str, tuple[int, ...]], signature, limits: RequestLimits) -> None:
    """The declared shapes fit the signature and the limits (before anything is decoded)."""
    for name, shape in shapes.items():
        check_signature_shape(name, shape, signature.inputs[name])
    limits.check_shapes(shapes)


def _scalar_inputs(signature) -> list[str]:
    """The signature's inputs of rank 0 (a generate signature's ``max_new_tokens``, ``num_beams``, ...)."""
    return sorted(name for name, info in signature.inputs.items()
                  if info.HasField("tensor_shape") and not info.tensor_shape.unknown_rank
                  and not info.tensor_shape.dim)


def _decode_instances(instances: Any, signature, limits: RequestLimits) -> dict[str, np.ndarray]:
    if not isinstance(instances, list) or not instances:
        raise invalid("Expecting 'instances' to be a non-empty list/array")
    scalars = _scalar_inputs(signature)
    if scalars:  # every instance adds a row to every input, so a scalar input never fits
        raise invalid(f"the row format ('instances') cannot carry the scalar inputs {scalars} of this signature; "
                      "use the columnar format ('inputs')")
    dtypes = _dtypes(signature)
    named = isinstance(instances[0], dict) and not is_b64_object(instances[0])
    if not named:
        if len(dtypes) != 1:
            raise invalid("instances is a plain list, but expecting list of objects as multiple input tensors "
                          f"required as per the signature: {{{','.join(sorted(dtypes))}}}")
        (name, dtype), = dtypes.items()
        _check_cost({name: (len(instances), *declared_shape(instances[0]))}, signature, limits)
        return {name: _stack(name, [decode_tensor(item, dtype, name) for item in instances])}
    limits.check_shapes({name: (len(instances),) for name in dtypes})
    for item in instances:
        if not isinstance(item, dict) or is_b64_object(item) or set(item) != set(dtypes):
            raise invalid(f"Expecting every instance to be an object with exactly the keys {sorted(dtypes)}")
    _check_cost({name: (len(instances), *declared_shape(instances[0][name])) for name in dtypes}, signature, limits)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in dtypes}
    for item in instances:
        for name, value in item.items():
            columns[name].append(decode_tensor(value, dtypes[name], name))
    return {name: _stack(name, rows) for name, rows in columns.items()}


def _decode_inputs(inputs: Any, signature, limits: RequestLimits) -> dict[str, np.ndarray]:
    dtypes = _dtypes(signature)
    if len(dtypes) == 1 and not (isinstance(inputs, dict) and not is_b64_object(inputs) and set(inputs) == set(dtypes)):
        (name, dtype), = dtypes.items()
        _check_cost({name: declared_shape(inputs)}, signature, limits)
        return {name: decode_tensor(inputs, dtype, name)}
    if not isinstance(inputs, dict) or is_b64_object(inputs):
        raise invalid(f"'inputs' must be an object with the keys {sorted(dtypes)} for this signature")
    missing, unknown = set(dtypes) - set(inputs), set(inputs) - set(dtypes)
    if missing or unknown:
        raise invalid(f"'inputs' must hold exactly the keys {sorted(dtypes)}; "
                      f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    _check_cost({name: declared_shape(value) for name, value in inputs.items()}, signature, limits)
    return {name: decode_tensor(value, dtypes[name], name) for name, value in inputs.items()}


def decode_predict_request(body: Any, signature, limits: RequestLimits = RequestLimits()
                           ) -> tuple[dict[str, np.ndarray], bool]:
    """The feeds of a parsed predict body, and whether it used the row (``instances``) format.

    The shapes the body declares are checked against the signature and ``limits`` before it is decoded, the
    tokens a generation request asks for once it is decoded.
    """
    if not isinstance(body, dict):
        raise invalid("Predict request must be a JSON object")
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances == has_inputs:
        if has_instances:
            raise invalid("Not formatted correctly expecting only one of 'inputs' or 'instances' keys exists")
        raise invalid("Missing 'inputs' or 'instances' key")
    if has_instances:
        feeds, row = _decode_instances(body["instances"], signature, limits), True
    else:
        feeds, row = _decode_inputs(body["inputs"], signature, limits), False
    limits.check_string_bytes(string_bytes(feeds.values()))
    limits.check_generated_tokens(feeds)
    return feeds, row


def encode_predict_response(outputs: Mapping[str, np.ndarray], row: bool) -> str:
    """``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar) as JSON text."""
    arrays = {name: np.asarray(value) for name, value in outputs.items()}
    if not row:
        if len(arrays) == 1:
            (name, array), = arrays.items()
            return '{"outputs": ' + encode_tensor(array, output_as_b64(name)) + "}"
        return '{"outputs": {' + ", ".join(
            f"{json.dumps(name)}: {encode_tensor(a, output_as_b64(name))}" for name, a in arrays.items()) + "}}"
    sizes = {name: (a.shape[0] if a.ndim else None) for name, a in arrays.items()}
    if None in sizes.values() or len(set(sizes.values())) > 1:
        raise invalid(f"Output tensors must share their first dimension (the batch) in row format; got {sizes}. "
                      "Use the columnar 'inputs' format")
    if len(arrays) == 1:
        (name, array), = arrays.items()
        return '{"predictions": ' + encode_tensor(array, output_as_b64(name)) + "}"
    batch = next(iter(sizes.values()))
    rows = ("{" + ", ".join(f"{json.dumps(name)}: {encode_tensor(a[i], output_as_b64(name))}"
                            for name, a in arrays.items()) + "}" for i in range(batch))
    return '{"predictions": [' + ", ".join(rows) + "]}"
