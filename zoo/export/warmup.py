"""TF Serving warmup requests: ``assets.extra/tf_serving_warmup_requests``.

An uncompressed TFRecord of serialized ``tensorflow.serving.PredictionLog`` (at most 1000 records; TF Serving
replays each one at load time and fails the load if any fails). Built from the endpoints' example inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    input_pb2,
    model_pb2,
    predict_pb2,
    prediction_log_pb2,
    regression_pb2,
)

from zoo.export.signatures import CLASSIFY, REGRESS, Endpoint

WARMUP_FILE = "tf_serving_warmup_requests"
MAX_RECORDS = 1000
LOG_TYPES = ("predict_log", "classify_log", "regress_log", "multi_inference_log")


def prediction_log(model_name: str, signature: str, endpoint: Endpoint) -> prediction_log_pb2.PredictionLog:
    """One warmup record holding all of ``endpoint.warmup`` as a single batched request."""
    spec = model_pb2.ModelSpec(name=model_name, signature_name=signature)
    if endpoint.method in (CLASSIFY, REGRESS):
        examples = [tf.train.Example.FromString(bytes(b)) for b in endpoint.warmup["inputs"]]
        request_input = input_pb2.Input(example_list=input_pb2.ExampleList(examples=examples))
        if endpoint.method == CLASSIFY:
            request = classification_pb2.ClassificationRequest(model_spec=spec, input=request_input)
            return prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))
        request = regression_pb2.RegressionRequest(model_spec=spec, input=request_input)
        return prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=request))
    request = predict_pb2.PredictRequest(model_spec=spec)
    for name, value in endpoint.warmup.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup(saved_model_dir: Path, model_name: str, endpoints: Mapping[str, Endpoint]) -> Path:
    """Write one record per endpoint into ``saved_model_dir/assets.extra/``; return the file path."""
    path = Path(saved_model_dir) / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, endpoint in endpoints.items():
            writer.write(prediction_log(model_name, signature, endpoint).SerializeToString())
    return path


def read_warmup(path: Path) -> Iterator[prediction_log_pb2.PredictionLog]:
    """Parse every record of a warmup file (raises on a malformed record)."""
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        yield prediction_log_pb2.PredictionLog.FromString(record)


def request_feeds(log: prediction_log_pb2.PredictionLog) -> tuple[str, dict[str, np.ndarray]]:
    """The signature name and the input arrays a warmup record feeds, as TF Serving would feed them."""
    kind = log.WhichOneof("log_type")
    if kind == "predict_log":
        request = log.predict_log.request
        return request.model_spec.signature_name or "serving_default", {
            name: tf.make_ndarray(proto) for name, proto in request.inputs.items()
        }
    if kind in ("classify_log", "regress_log"):
        request = getattr(log, kind).request
        examples = request.input.example_list.examples
        serialized = np.array([e.SerializeToString() for e in examples], dtype=object)
        return request.model_spec.signature_name or "serving_default", {"inputs": serialized}
    raise ValueError(f"warmup record of type {kind!r} is not replayed by the zoo's gate")
