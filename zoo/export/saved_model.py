"""Writing a :class:`~zoo.export.signatures.Servable` as a SavedModel with explicit signatures.

Keras' ``ExportArchive`` does the saving: unlike a plain ``tf.saved_model.save`` of a ``tf.Module`` holding
a Keras 3 model, its output restores through the TF1 session loader that TF Serving uses. Signatures
whose endpoint is a classifier or regressor get TF Serving's method name afterwards (TF2 saving
always writes ``tensorflow/serving/predict``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import keras
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from zoo.export.signatures import PREDICT, Servable


def save_servable(servable: Servable, path: Path) -> dict[str, tf.types.experimental.GenericFunction]:
    """Save to ``path``; return the traced function behind each signature (the gate's reference)."""
    archive = keras.export.ExportArchive()
    for resource in servable.tracked:
        archive.track(resource)
    functions = {
        name: archive.add_endpoint(name, endpoint.fn, input_signature=list(endpoint.input_signature))
        for name, endpoint in servable.endpoints.items()
    }
    archive.write_out(str(path), verbose=False)
    set_method_names(path, {n: e.method for n, e in servable.endpoints.items() if e.method != PREDICT})
    return functions


def set_method_names(path: Path, methods: Mapping[str, str]) -> None:
    """Rewrite the ``method_name`` of the named signatures in ``path/saved_model.pb``."""
    if not methods:
        return
    pb_path = Path(path) / "saved_model.pb"
    saved_model = saved_model_pb2.SavedModel.FromString(pb_path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        for name, method in methods.items():
            meta_graph.signature_def[name].method_name = method
    pb_path.write_bytes(saved_model.SerializeToString())


def describe_signatures(servable: Servable) -> dict[str, Any]:
    """Inputs (dtype and shape) and method of each signature, for the model card."""
    return {
        name: {
            "method": endpoint.method,
            "inputs": {
                spec.name: {"dtype": spec.dtype.name, "shape": [d if d is not None else -1 for d in spec.shape.as_list()]}
                for spec in endpoint.input_signature
            },
        }
        for name, endpoint in servable.endpoints.items()
    }
