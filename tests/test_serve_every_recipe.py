"""``python -m zoo.serve`` as users run it (its own process, clean environment) over every registered recipe's tiny
export: each answers its warmup requests through REST and through gRPC (``:classify`` too where it has a classify
signature), and a bounded stream of hostile requests leaves the server's memory within a stated ceiling.

Registering a recipe is what puts it under test here (the parameters are ``zoo.list_recipes()``).
"""

from __future__ import annotations

import base64
import json

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import classification_pb2, predict_pb2, prediction_service_pb2_grpc

import zoo
from serve_support import http, post_json, serve_process
from zoo.export.signatures import CLASSIFY
from zoo.export.warmup import WARMUP_FILE, read_warmup

RSS_CEILING = 64 << 20  # the most a stream of refused requests may add to the server's resident memory


@pytest.fixture(scope="module")
def served(tiny_exports):
    """One ``python -m zoo.serve`` over the session's tiny exports (default limits), stopped after the module."""
    export_dir, runs = tiny_exports
    with serve_process(export_dir) as server, grpc.insecure_channel(server.grpc_target) as channel:
        yield server, prediction_service_pb2_grpc.PredictionServiceStub(channel), export_dir, runs


def _exported(served, name: str):
    """The version directory of ``name``'s tiny export; the test fails, with the export's stderr, if it failed."""
    _, _, export_dir, runs = served
    run = runs[name]
    assert run.returncode == 0, f"tiny export of {name} failed (exit {run.returncode}):\n{run.stderr[-3000:]}"
    return export_dir / name / "1"


def _json_value(array: np.ndarray):
    if array.dtype == object:
        return np.vectorize(lambda v: {"b64": base64.b64encode(v).decode()}, otypes=[object])(array).tolist()
    return array.tolist()


def _json_example(example: tf.train.Example) -> dict:
    def values(feature):
        kind = feature.WhichOneof("kind")
        if kind == "bytes_list":
            return [{"b64": base64.b64encode(v).decode()} for v in feature.bytes_list.value]
        return list(getattr(feature, kind).value) if kind else []

    return {key: values(feature) for key, feature in example.features.feature.items()}


def _same(rest_value, grpc_value: np.ndarray, name: str) -> None:
    """A REST output equals the gRPC one (REST prints float32 exactly; strings as text, or b64 for ``*_bytes``)."""
    if grpc_value.dtype == object:
        def text(v):
            return base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode()

        expected = np.vectorize(lambda v: v if name.endswith("_bytes") else v.decode("utf-8", "replace").encode(),
                                otypes=[object])(grpc_value)
        assert np.vectorize(text, otypes=[object])(np.array(rest_value, dtype=object)).tolist() == expected.tolist()
    else:
        np.testing.assert_array_equal(np.asarray(rest_value, dtype=grpc_value.dtype), grpc_value, err_msg=name)


def _predict_both(server, stub, name: str, request) -> None:
    signature = request.model_spec.signature_name or "serving_default"
    request.model_spec.name = name
    inputs = {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}
    status, body = post_json(f"{server.rest_url}/v1/models/{name}:predict",
                             {"signature_name": signature, "inputs": {k: _json_value(v) for k, v in inputs.items()}})
    assert status == 200, (name, signature, body)
    response = stub.Predict(request, timeout=120)
    outputs = {alias: tf.make_ndarray(proto) for alias, proto in response.outputs.items()}
    rest_outputs = body["outputs"] if len(outputs) > 1 else {next(iter(outputs)): body["outputs"]}
    assert set(rest_outputs) == set(outputs), (name, signature)
    rows = {value.shape[0] for value in inputs.values() if value.ndim}
    for alias, value in outputs.items():
        if value.ndim and rows:
            assert value.shape[0] in rows, (name, signature, alias, value.shape)  # one answer per example
        _same(rest_outputs[alias], value, alias)


def _classify_both(server, stub, name: str, request: classification_pb2.ClassificationRequest) -> None:
    signature = request.model_spec.signature_name
    request.model_spec.name = name
    examples = request.input.example_list.examples
    status, body = post_json(f"{server.rest_url}/v1/models/{name}:classify",
                             {"signature_name": signature, "examples": [_json_example(e) for e in examples]})
    assert status == 200, (name, signature, body)
    response = stub.Classify(request, timeout=120)
    grpc_results = [[(c.label, c.score) for c in result.classes] for result in response.result.classifications]
    assert len(grpc_results) == len(examples) and all(grpc_results)
    assert [[label for label, _ in r] for r in body["results"]] == [[label for label, _ in r] for r in grpc_results]
    np.testing.assert_allclose([[s for _, s in r] for r in body["results"]],
                               [[s for _, s in r] for r in grpc_results], rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_recipes())
def test_every_recipe_answers_its_warmup_requests_over_rest_and_grpc(served, name):
    server, stub, _, _ = served
    version_dir = _exported(served, name)
    status, text = http("GET", f"{server.rest_url}/v1/models/{name}")
    assert (status, json.loads(text)["model_version_status"][0]["state"]) == (200, "AVAILABLE"), (
        text, server.stderr_tail())
    status, text = http("GET", f"{server.rest_url}/v1/models/{name}/metadata")
    signatures = json.loads(text)["metadata"]["signature_def"]["signature_def"]
    exercised = set()
    for log in read_warmup(version_dir / "assets.extra" / WARMUP_FILE):
        kind = log.WhichOneof("log_type")
        request = getattr(log, kind).request
        if kind == "predict_log":
            _predict_both(server, stub, name, request)
        elif kind == "classify_log":
            _classify_both(server, stub, name, request)
        exercised.add(request.model_spec.signature_name or "serving_default")
    classify = {s for s, definition in signatures.items() if definition["method_name"] == CLASSIFY}
    assert "serving_default" in exercised and classify <= exercised, (exercised, sorted(signatures))


def _declared(shape, dtype: int, **values) -> tensor_pb2.TensorProto:
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=size) for size in shape]
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=dims), **values)


def _refused_over_grpc(stub, name: str, alias: str, proto: tensor_pb2.TensorProto) -> str:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs[alias].CopyFrom(proto)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Predict(request, timeout=120)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return caught.value.details()


@pytest.mark.slow
def test_a_stream_of_oversized_requests_is_refused_and_leaves_memory_within_the_ceiling(served):
    server, stub, _, _ = served
    _exported(served, "lstm")
    _exported(served, "cnn_mnist")
    lstm, cnn = f"{server.rest_url}/v1/models/lstm:predict", f"{server.rest_url}/v1/models/cnn_mnist:predict"
    image = [[0] * 28] * 28
    assert post_json(lstm, {"instances": ["a short text"] * 256})[0] == 200  # the largest request allowed
    assert post_json(cnn, {"instances": [image] * 256})[0] == 200
    before = server.rss_bytes()
    for _ in range(5):
        status, body = post_json(lstm, {"instances": ["x"] * 10_000})  # 50 KB body, 10,000 rows
        assert status == 400 and body["error"].endswith("(--max-rows)"), body
        details = _refused_over_grpc(stub, "cnn_mnist", "images", _declared(
            [20_000, 28, 28], types_pb2.DT_UINT8, int_val=[7]))  # 46 bytes declaring 15.7M elements
        assert details.endswith("(--max-rows)")
        details = _refused_over_grpc(stub, "lstm", "text", _declared(
            [10_000_000], types_pb2.DT_STRING, string_val=[b"x"]))  # 49 bytes declaring 10M strings
        assert details.endswith("(--max-rows)")
        status, text = http("POST", cnn, '{"inputs": [' + ", ".join(["0"] * 1_000_000) + "]}")  # 1M scalars
        assert (status, json.loads(text)) == (400, {
            "error": "input 'images' has shape [1000000], but the signature expects [?,28,28]"})
    after = server.rss_bytes()
    print(f"zoo.serve RSS before the stream {before / 2**20:.0f} MiB, after {after / 2**20:.0f} MiB")
    assert after - before < RSS_CEILING, (before, after)
    assert post_json(lstm, {"instances": ["still answering"]})[0] == 200
