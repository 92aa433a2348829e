"""zoo.serve's gRPC API through the official tensorflow-serving-api stubs."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serve_support import export_half_plus_two, serving


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpc")
    export_half_plus_two(root)
    with serving(root) as server, grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        yield channel


@pytest.fixture
def stub(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def _predict_request(values, dtype=np.float32, **spec):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec.pop("name", "half_plus_two")
    for key, value in spec.items():
        if key == "version":
            request.model_spec.version.value = value
        else:
            setattr(request.model_spec, key, value)
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array(values, dtype)))
    return request


def test_predict_half_plus_two(stub):
    response = stub.Predict(_predict_request([1.0, 2.0, 5.0]), timeout=30)
    assert tf.make_ndarray(response.outputs["y"]).tolist() == [2.5, 3.0, 4.5]
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        "half_plus_two", 1, "serving_default")


def test_predict_output_filter_and_strings(stub):
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "mixed"
    request.inputs["a"].CopyFrom(tf.make_tensor_proto(np.array([1.0], np.float32)))
    request.inputs["n"].CopyFrom(tf.make_tensor_proto(np.array([2], np.int64)))
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(np.array([b"\xff\x00"], object)))
    request.output_filter.append("text_bytes")
    response = stub.Predict(request, timeout=30)
    assert list(response.outputs) == ["text_bytes"]
    assert tf.make_ndarray(response.outputs["text_bytes"]).tolist() == [b"\xff\x00"]


@pytest.mark.parametrize("request_factory, code, message", [
    (lambda: _predict_request([1.0], name="m"), grpc.StatusCode.NOT_FOUND, "Servable not found for request: Latest(m)"),
    (lambda: _predict_request([1.0], version=4), grpc.StatusCode.NOT_FOUND,
     "Servable not found for request: Specific(half_plus_two, 4)"),
    (lambda: _predict_request([1.0], version_label="stable"), grpc.StatusCode.INVALID_ARGUMENT,
     "Unrecognized servable version label: stable"),
    (lambda: _predict_request([1.0], signature_name="nope"), grpc.StatusCode.INVALID_ARGUMENT,
     'Serving signature name: "nope" not found in signature def'),
    (lambda: _predict_request([1.0], dtype=np.float64), grpc.StatusCode.INVALID_ARGUMENT,
     "Expects arg 'x' to be float32 but float64 is provided"),
])
def test_predict_errors_carry_tf_serving_codes(stub, request_factory, code, message):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request_factory(), timeout=30)
    assert (caught.value.code(), caught.value.details()) == (code, message)


def test_predict_rejects_a_huge_shape_without_allocating_it(stub):
    request = _predict_request([1.0])
    request.inputs["x"].tensor_shape.dim[0].size = 2**40  # a few bytes on the wire, terabytes if filled
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, "input 'x' has 1099511627776 rows; one request may hold at most 256 (--max-rows)")


@pytest.mark.parametrize("dtype", [0, 9999])
def test_predict_with_a_dtype_that_does_not_exist_is_invalid_argument(stub, dtype):
    request = _predict_request([1.0])
    request.inputs["x"].dtype = dtype
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=30)
    assert (caught.value.code(), caught.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, f"input 'x' has dtype {dtype}, which is not a TensorFlow dtype")


def _examples(*values):
    return [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})) for v in values]


def test_classify_and_regress(stub):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "classify_x_to_y"
    request.input.example_list.examples.extend(_examples(1.0, 2.0))
    response = stub.Classify(request, timeout=30)
    assert [[(c.label, c.score) for c in r.classes] for r in response.result.classifications] == [
        [("", 2.5)], [("", 3.0)]]

    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "regress_x_to_y"
    request.input.example_list_with_context.context.CopyFrom(_examples(3.0)[0])
    request.input.example_list_with_context.examples.extend([_examples(1.0)[0], tf.train.Example()])
    response = stub.Regress(request, timeout=30)
    assert [r.value for r in response.result.regressions] == [2.5, 3.5]


def test_metadata_and_status(stub, channel):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "half_plus_two"
    response = stub.GetModelMetadata(request, timeout=30)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert {"serving_default", "classify_x_to_y", "regress_x_to_y", "mixed"} <= set(signatures.signature_def)
    assert signatures.signature_def["serving_default"].inputs["x"].name == "serving_default_x:0"

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "half_plus_two"
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_request, timeout=30)
    [version] = status.model_version_status
    assert (version.version, version.state, version.status.error_code) == (
        1, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)
