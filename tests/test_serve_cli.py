"""``python -m zoo.serve`` as a process, and serving the session's tiny cnn_mnist export."""

from __future__ import annotations

import shutil

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serve_support import export_half_plus_two, http, post_json, serve_process, serving
from zoo.serve.__main__ import main
from zoo.serve.loader import LoadedVersion
from zoo_subprocess import run_python


@pytest.mark.slow
def test_cli_serves_half_plus_two_over_rest_and_grpc(tmp_path):
    export_half_plus_two(tmp_path)
    with serve_process(tmp_path, "--max-rows", "3") as server:
        url = f"{server.rest_url}/v1/models/half_plus_two:predict"
        assert http("POST", url, '{"instances": [1.0, 2.0, 5.0]}') == (200, '{"predictions": [2.5, 3.0, 4.5]}')
        assert post_json(url, {"instances": [1.0] * 4}) == (400, {
            "error": "input 'x' has 4 rows; one request may hold at most 3 (--max-rows)"})

        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([1.0, 2.0, 5.0], np.float32)))
        with grpc.insecure_channel(server.grpc_target) as channel:
            response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        assert tf.make_ndarray(response.outputs["y"]).tolist() == [2.5, 3.0, 4.5]
    assert server.process.returncode == 0  # SIGTERM is a clean stop


@pytest.mark.parametrize("flag", ["--rest-port", "--grpc-port"])
@pytest.mark.parametrize("value", ["70000", "-1", "http", "²"])
def test_cli_rejects_a_bad_port(capsys, flag, value):
    assert main([flag, value]) == 2
    assert capsys.readouterr().err == (
        f"zoo.serve: error: argument {flag}: must be a port number in 0..65535, got {value}\n")


@pytest.mark.parametrize("flag", ["--max-rows", "--max-elements", "--max-string-bytes", "--max-body-bytes",
                                  "--max-batch-size"])
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_cli_limits_must_be_positive_integers(capsys, flag, value):
    assert main([flag, value]) == 2
    assert capsys.readouterr().err == f"zoo.serve: error: argument {flag}: must be a positive integer, got {value}\n"


@pytest.mark.parametrize("value", ["-1", "soon", "2.5"])
def test_the_batch_timeout_must_be_a_whole_number_of_microseconds(capsys, value):
    assert main(["--batch-timeout-micros", value]) == 2
    assert capsys.readouterr().err == (
        f"zoo.serve: error: argument --batch-timeout-micros: must be an integer of 0 or more, got {value}\n")


@pytest.mark.parametrize("argv, message", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--max-batch-size", "0"], "argument --max-batch-size: must be a positive integer, got 0"),
    (["--batch-timeout-micros", "soon"], "argument --batch-timeout-micros: must be an integer of 0 or more, got soon"),
    (["--rest-port"], "argument --rest-port: expected one argument"),
])
def test_a_usage_error_is_one_line_from_a_real_process_and_writes_nothing(tmp_path, argv, message):
    done = run_python(["-m", "zoo.serve", *argv], cwd=tmp_path, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", f"zoo.serve: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_help_is_printed_whole_and_exits_0(tmp_path):
    done = run_python(["-m", "zoo.serve", "--help"], cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith("usage: python -m zoo.serve") and "--max-batch-size" in done.stdout


@pytest.mark.slow
def test_tiny_cnn_mnist_export_answers_raw_uint8_images(tmp_path, tiny_exports):
    export_dir, runs = tiny_exports
    assert runs["cnn_mnist"].returncode == 0, runs["cnn_mnist"].stderr[-3000:]
    shutil.copytree(export_dir / "cnn_mnist", tmp_path / "cnn_mnist")  # served alone
    images = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    with serving(tmp_path) as server:
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/cnn_mnist"
        status, body = post_json(url + ":predict", {"instances": images.tolist()})
        wrong_status, wrong = post_json(url + ":predict", {"instances": [[[256] * 28] * 28]})
    assert status == 200 and len(body["predictions"]) == 3
    model = LoadedVersion("cnn_mnist", 1, tmp_path / "cnn_mnist" / "1")
    try:
        expected = model.run("serving_default", {"images": images})
    finally:
        model.retire()
    served = np.array([p["probabilities"] for p in body["predictions"]])
    np.testing.assert_allclose(served, expected["probabilities"], rtol=1e-6, atol=1e-7)
    assert [p["classes"] for p in body["predictions"]] == [c.decode() for c in expected["classes"]]  # label names
    assert wrong_status == 400 and "out of range for uint8" in wrong["error"]
