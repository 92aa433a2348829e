"""Per-request limits: a request's declared cost is checked (REST and gRPC) before it is decoded or run."""

from __future__ import annotations

import grpc
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_service_pb2_grpc

from serve_support import export_half_plus_two, post_json, serving
from zoo.serve.limits import RequestLimits

MODEL = "/v1/models/half_plus_two"
LIMITS = RequestLimits(max_rows=8, max_elements=20, max_string_bytes=64)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    export_half_plus_two(root)
    with serving(root, limits=LIMITS) as server:
        yield server


@pytest.fixture
def url(server):
    return f"http://127.0.0.1:{server.rest_port}"


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _mixed(rows: int, text: str = "x") -> dict:
    return {"signature_name": "mixed", "inputs": {"a": [1.0] * rows, "n": [1] * rows, "text": [text] * rows}}


@pytest.mark.parametrize("path, body, flag", [
    (":predict", {"instances": [1.0] * 9}, "--max-rows"),
    (":predict", {"inputs": [1.0] * 9}, "--max-rows"),
    (":predict", {"signature_name": "mixed", "instances": [{"a": 1.0, "n": 1, "text": "x"}] * 9}, "--max-rows"),
    (":predict", _mixed(7), "--max-elements"),  # 3 inputs x 7 rows = 21 elements
    (":predict", _mixed(1, "x" * 65), "--max-string-bytes"),
    (":classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}] * 9}, "--max-rows"),
    (":regress", {"signature_name": "regress_x_to_y", "examples": [{"x": "y" * 65}]}, "--max-string-bytes"),
])
def test_rest_request_past_a_limit_is_400_naming_the_flag(url, path, body, flag):
    status, payload = post_json(url + MODEL + path, body)
    assert status == 400 and payload["error"].endswith(f"({flag})"), payload


def test_rest_requests_within_the_limits_are_answered(url):
    assert post_json(url + MODEL + ":predict", {"instances": [1.0] * 8}) == (200, {"predictions": [2.5] * 8})
    status, payload = post_json(url + MODEL + ":predict", _mixed(6, "x" * 10))
    assert status == 200 and payload["outputs"]["length"] == [10] * 6


def test_rest_shape_that_does_not_fit_the_signature_is_400_before_decoding(url):
    status, payload = post_json(url + MODEL + ":predict", {"instances": [[1.0] * 4] * 2})
    assert (status, payload) == (400, {"error": "input 'x' has shape [2, 4], but the signature expects [?]"})


def _tensor(shape, dtype: tf.DType, **values) -> tensor_pb2.TensorProto:
    """A TensorProto declaring ``shape`` with only the ``values`` given (make_ndarray repeats the last one)."""
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]
    return tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims),
                                  **values)


def _grpc_predict(stub, signature="serving_default", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", signature
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    return stub.Predict(request, timeout=30)


def _grpc_error(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()


def test_grpc_broadcast_shape_is_measured_by_its_declared_shape(stub):
    # 9 rows from one float_val: a few bytes on the wire, filled to 9 elements by make_ndarray
    code, details = _grpc_error(lambda: _grpc_predict(stub, x=_tensor([9], tf.float32, float_val=[1.0])))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                               "input 'x' has 9 rows; one request may hold at most 8 (--max-rows)")


def test_grpc_string_broadcast_counts_every_filled_element(stub):
    def mixed(rows: int):
        return _grpc_predict(stub, "mixed", a=_tensor([rows], tf.float32, float_val=[1.0]),
                             n=_tensor([rows], tf.int64, int64_val=[1]),
                             text=_tensor([rows], tf.string, string_val=[b"0123456789A"]))

    assert tf.make_ndarray(mixed(5).outputs["length"]).tolist() == [11] * 5  # 55 bytes once filled
    code, details = _grpc_error(lambda: mixed(6))  # 66 bytes once filled, from 11 on the wire
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.endswith("(--max-string-bytes)")


def test_grpc_elements_and_signature_shape_are_checked(stub):
    code, details = _grpc_error(lambda: _grpc_predict(
        stub, "mixed", a=_tensor([7], tf.float32, float_val=[1.0]), n=_tensor([7], tf.int64, int64_val=[1]),
        text=_tensor([7], tf.string, string_val=[b""])))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.endswith("(--max-elements)")
    code, details = _grpc_error(lambda: _grpc_predict(stub, x=_tensor([2, 10**6], tf.float32, float_val=[1.0])))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                               "input 'x' has shape [2, 1000000], but the signature expects [?]")


def test_grpc_classify_past_the_row_limit(stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "classify_x_to_y"
    request.input.example_list.examples.extend([tf.train.Example()] * 9)
    code, details = _grpc_error(lambda: stub.Classify(request, timeout=30))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.endswith("(--max-rows)")
