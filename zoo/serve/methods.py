"""Classify, regress and metadata as TF Serving defines them, independent of REST or gRPC.

Both front ends turn their request into serialized ``tf.Example`` protos (the one ``inputs`` tensor a
classify or regress signature takes), run the signature, and shape the outputs with these functions.

Example:

>>> import numpy as np
>>> classification_results({"classes": np.array([[b"a", b"b"]]), "scores": np.array([[0.25, 0.75]])})
[[('a', 0.25), ('b', 0.75)]]
>>> regression_results({"outputs": np.array([[1.5], [2.0]])})
[1.5, 2.0]
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from zoo.export.signatures import CLASSIFY, REGRESS
from zoo.serve.errors import invalid
from zoo.serve.loader import LoadedVersion

_METHOD_WORD = {CLASSIFY: "classification", REGRESS: "regression"}


def example_signature(model: LoadedVersion, name: str, method: str) -> meta_graph_pb2.SignatureDef:
    """The classify or regress signature ``name``; INVALID_ARGUMENT if it has another method or input."""
    signature = model.signature(name)
    if signature.method_name != method:
        raise invalid(f"Expected {_METHOD_WORD[method]} signature method_name to be {method}. "
                      f"Was: {signature.method_name}")
    if list(signature.inputs) != ["inputs"] or signature.inputs["inputs"].dtype != tf.string.as_datatype_enum:
        raise invalid("Expected one input Tensor named 'inputs' of type DT_STRING (serialized tf.Example)")
    return signature


def serialized_examples(examples: Sequence[tf.train.Example], context: tf.train.Example | None = None) -> np.ndarray:
    """The ``inputs`` tensor: each example serialized, after the context (so the example wins on a clash)."""
    if not examples:
        raise invalid("Input is empty")
    prefix = context.SerializeToString() if context is not None else b""
    return np.array([prefix + example.SerializeToString() for example in examples], dtype=object)


def classification_results(outputs: Mapping[str, np.ndarray]) -> list[list[tuple[str, float]]]:
    """Per example, ``(label, score)`` pairs from ``classes`` [batch, k] and/or ``scores`` [batch, k]."""
    classes, scores = outputs.get("classes"), outputs.get("scores")
    if classes is None and scores is None:
        raise invalid("classification signature needs a 'classes' or 'scores' output")
    reference = classes if classes is not None else scores
    batch = np.shape(reference)[0] if np.ndim(reference) else 0
    classes = np.reshape(classes, (batch, -1)) if classes is not None else None
    scores = np.reshape(scores, (batch, -1)).astype(float) if scores is not None else None
    if classes is not None and scores is not None and classes.shape != scores.shape:
        raise invalid(f"classes {classes.shape} and scores {scores.shape} outputs differ in shape")
    width = (classes if classes is not None else scores).shape[1]
    return [
        [
            (classes[i, j].decode("utf-8", "replace") if classes is not None else "",
             float(scores[i, j]) if scores is not None else 0.0)
            for j in range(width)
        ]
        for i in range(batch)
    ]


def regression_results(outputs: Mapping[str, np.ndarray]) -> list[float]:
    """One value per example from ``outputs`` [batch] or [batch, 1]."""
    values = np.asarray(outputs["outputs"], dtype=float)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise invalid(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got {list(values.shape)}")
    return values.tolist()


def metadata(model: LoadedVersion) -> get_model_metadata_pb2.SignatureDefMap:
    """The ``signature_def`` metadata field: every SignatureDef of the version's MetaGraphDef."""
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in model.signature_defs.items():
        signature_map.signature_def[name].CopyFrom(signature)
    return signature_map
