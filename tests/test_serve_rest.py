"""zoo.serve's REST API against TF_SERVING_CONTRACT.md: exact bodies and status codes, versions, labels."""

from __future__ import annotations

import json
import shutil

import pytest

from serve_support import export_half_plus_two, http, post_json, serving, wait_for

MODEL = "/v1/models/half_plus_two"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    export_half_plus_two(root)
    with serving(root) as server:
        yield server


@pytest.fixture
def url(server):
    return f"http://127.0.0.1:{server.rest_port}"


def test_canonical_half_plus_two_text_is_exact(url):
    assert http("POST", url + MODEL + ":predict", '{"instances": [1.0, 2.0, 5.0]}') == (
        200, '{"predictions": [2.5, 3.0, 4.5]}')


@pytest.mark.parametrize("method, path, body, status, expected", [
    # predict: row and columnar, one input and several, b64 in and out, int64 outputs
    ("POST", MODEL + ":predict", {"inputs": [1, 2.0, 5]}, 200, {"outputs": [2.5, 3.0, 4.5]}),
    ("POST", MODEL + ":predict", {"signature_name": "serving_default", "instances": [-4]}, 200,
     {"predictions": [0.0]}),
    ("POST", MODEL + "/versions/1:predict", {"instances": [2]}, 200, {"predictions": [3.0]}),
    ("POST", "/V1/MODELS/half_plus_two:PREDICT", {"instances": [2]}, 200, {"predictions": [3.0]}),
    ("POST", "/v1/models/half%5Fplus%5Ftwo:predict", {"instances": [2]}, 200, {"predictions": [3.0]}),
    ("POST", MODEL + ":predict", {"signature_name": "mixed", "instances": [
        {"a": 1.5, "n": 2, "text": {"b64": "aGk="}}, {"a": 0, "n": -1, "text": "héllo"}]}, 200,
     {"predictions": [{"sum": 3.5, "text_bytes": {"b64": "aGk="}, "length": 2},
                      {"sum": -1.0, "text_bytes": {"b64": "aMOpbGxv"}, "length": 6}]}),
    ("POST", MODEL + ":predict", {"signature_name": "mixed", "inputs": {"a": [1], "n": [2], "text": ["x"]}}, 200,
     {"outputs": {"sum": [3.0], "text_bytes": [{"b64": "eA=="}], "length": [1]}}),
    # classify and regress, context merged into each example (the example wins)
    ("POST", MODEL + ":classify", {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": [2.0]}]},
     200, {"results": [[["", 2.5]], [["", 3.0]]]}),
    ("POST", MODEL + ":regress", {"signature_name": "regress_x_to_y", "context": {"x": 3.0},
                                  "examples": [{"x": 1.0}, {}]}, 200, {"results": [2.5, 3.5]}),
    # status
    ("GET", MODEL, None, 200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}),
    ("GET", MODEL + "/versions/1", None, 200, {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}),
    # errors
    ("POST", MODEL + ":predict", "", 400, {"error": "JSON Parse error: The document is empty"}),
    ("POST", MODEL + ":predict", {}, 400, {"error": "Missing 'inputs' or 'instances' key"}),
    ("POST", MODEL + ":predict", {"instances": [1], "inputs": [1]}, 400,
     {"error": "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exists"}),
    ("POST", MODEL + ":predict", {"signature_name": "nope", "instances": [1]}, 400,
     {"error": 'Serving signature name: "nope" not found in signature def'}),
    ("POST", "/v1/models/m:predict", {"instances": [1]}, 404,
     {"error": "Servable not found for request: Latest(m)"}),
    ("POST", MODEL + "/versions/7:predict", {"instances": [1]}, 404,
     {"error": "Servable not found for request: Specific(half_plus_two, 7)"}),
    ("POST", MODEL + "/labels/stable:predict", {"instances": [1]}, 400,
     {"error": "Unrecognized servable version label: stable"}),
    ("GET", "/v1/models/m", None, 404, {"error": "Could not find any versions of model m"}),
    ("GET", MODEL + "/versions/7", None, 404, {"error": "Could not find version 7 of model half_plus_two"}),
    ("GET", "/v1/models", None, 400, {"error": "Missing model name in request."}),
    ("GET", MODEL + ":predict", None, 400, {"error": "Malformed request: GET /v1/models/half_plus_two:predict"}),
    ("POST", MODEL, {}, 400, {"error": "Malformed request: POST /v1/models/half_plus_two"}),
    ("DELETE", MODEL, None, 400, {"error": "Malformed request: DELETE /v1/models/half_plus_two"}),
    ("GET", "/v2/anything?x=1", None, 400, {"error": "Malformed request: GET /v2/anything?x=1"}),
    ("GET", MODEL + "/versions/99999999999999999999", None, 400,
     {"error": "Failed to convert version: 99999999999999999999 to numeric."}),
    ("POST", MODEL + ":classify", {"examples": [{"x": 1.0}]}, 400, {"error": (
        "Expected classification signature method_name to be tensorflow/serving/classify. "
        "Was: tensorflow/serving/predict")}),
])
def test_contract_case(url, method, path, body, status, expected):
    text = body if body is None or isinstance(body, str) else json.dumps(body)
    got_status, got_text = http(method, url + path, text)
    assert (got_status, json.loads(got_text)) == (status, expected)


@pytest.mark.parametrize("body, fragment", [
    ({"instances": [1, [2]]}, "must be the same"),
    ({"inputs": [1, [2, 3]]}, "rectangular"),
    ({"inputs": [[1], [2, 3]]}, "has shape [2, 1], but the signature expects [?]"),
    ({"instances": ["one"]}, "expected a number"),
    ({"instances": [True]}, "expected a number"),
    ({"signature_name": "mixed", "instances": [{"a": 1.0, "n": 1.0, "text": "x"}]}, "expected an integer"),
    ({"signature_name": "mixed", "instances": [{"a": 1.0, "n": 2**63, "text": "x"}]}, "out of range"),
    ({"signature_name": "mixed", "instances": [{"a": 1.0, "n": 1, "text": {"b64": "!!"}}]}, "base64"),
    ({"signature_name": "mixed", "instances": [{"a": 1.0, "n": 1}]}, "exactly the keys"),
    ({"signature_name": "mixed", "inputs": {"a": [1.0], "n": [1]}}, "missing ['text']"),
    ({"signature_name": "mixed", "instances": [1.0]}, "plain list"),
    ({"instances": []}, "non-empty"),
    ({"instances": [10**400]}, "out of range for a double"),
])
def test_bad_tensors_are_400_with_a_reason(url, body, fragment):
    status, payload = post_json(url + MODEL + ":predict", body)
    assert status == 400 and fragment in payload["error"], payload


def test_out_of_range_numbers_in_examples_are_400(url):
    status, payload = post_json(url + MODEL + ":classify", {"signature_name": "classify_x_to_y",
                                                            "examples": [{"x": [1.5, 10**400]}]})
    assert status == 400 and "out of range for a double" in payload["error"]


def test_nan_and_infinity_tokens_round_trip(url):
    status, text = http("POST", url + MODEL + ":predict", '{"instances": [NaN, Infinity, -Infinity, 1e39]}')
    assert (status, text) == (200, '{"predictions": [NaN, Infinity, -Infinity, Infinity]}')


def test_float32_outputs_print_shortest_round_trip(url):
    status, text = http("POST", url + MODEL + ":predict", '{"instances": [0.2, -3.9999999]}')
    assert (status, text) == (200, '{"predictions": [2.1, 0.0]}')


def test_metadata_is_signature_def_map_nested_twice_with_int64_strings(url):
    status, text = http("GET", url + MODEL + "/metadata")
    body = json.loads(text)
    assert status == 200
    assert body["model_spec"] == {"name": "half_plus_two", "signature_name": "", "version": "1"}
    serving_default = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert serving_default["inputs"] == {"x": {
        "dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False},
        "name": "serving_default_x:0"}}
    assert set(serving_default["outputs"]) == {"y"}
    assert serving_default["method_name"] == "tensorflow/serving/predict" and serving_default["defaults"] == {}


def _status_versions(url):
    status, text = http("GET", url + MODEL)
    return [v["version"] for v in json.loads(text)["model_version_status"]] if status == 200 else []


def test_versions_are_picked_up_and_removed_while_serving(tmp_path):
    export_half_plus_two(tmp_path)
    hidden = tmp_path / "half_plus_two" / ".tmp-9-1"
    shutil.copytree(tmp_path / "half_plus_two" / "1", hidden)  # a half-written export: never a version
    with serving(tmp_path, poll_seconds=0.1) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        assert _status_versions(url) == ["1"]
        export_half_plus_two(tmp_path, slope=1.0)  # version 2: y = x + 2
        wait_for(lambda: _status_versions(url) == ["2"])
        assert post_json(url + MODEL + ":predict", {"instances": [2.0]}) == (200, {"predictions": [4.0]})
        shutil.rmtree(tmp_path / "half_plus_two" / "2")
        wait_for(lambda: _status_versions(url) == ["1"])
        assert post_json(url + MODEL + ":predict", {"instances": [2.0]}) == (200, {"predictions": [3.0]})
        assert hidden.is_dir()


def test_labels_and_version_policy_come_from_models_config(tmp_path):
    export_half_plus_two(tmp_path)
    export_half_plus_two(tmp_path, slope=1.0)
    (tmp_path / "models.config").write_text(
        "model_config_list { config { name: 'half_plus_two' base_path: '/models/half_plus_two' "
        "model_platform: 'tensorflow' model_version_policy { all {} } "
        "version_labels { key: 'stable' value: 1 } version_labels { key: 'canary' value: 2 } } }")
    with serving(tmp_path) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        assert _status_versions(url) == ["2", "1"]
        assert post_json(url + MODEL + "/labels/stable:predict", {"instances": [2.0]}) == (200, {"predictions": [3.0]})
        assert post_json(url + MODEL + "/labels/canary:predict", {"instances": [2.0]}) == (200, {"predictions": [4.0]})
        assert post_json(url + MODEL + ":predict", {"instances": [2.0]}) == (200, {"predictions": [4.0]})
        assert post_json(url + MODEL + "/labels/nope:predict", {"instances": [2.0]}) == (
            400, {"error": "Unrecognized servable version label: nope"})
        assert http("GET", url + MODEL + "/labels/stable")[0] == 200


def test_a_version_that_fails_to_load_is_reported_and_the_old_one_keeps_serving(tmp_path):
    export_half_plus_two(tmp_path)
    with serving(tmp_path, poll_seconds=0.1) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        broken = tmp_path / "half_plus_two" / ".tmp-2-1"
        broken.mkdir()
        (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
        broken.rename(tmp_path / "half_plus_two" / "2")
        wait_for(lambda: _status_versions(url) == ["2", "1"])
        status = json.loads(http("GET", url + MODEL + "/versions/2")[1])["model_version_status"][0]
        assert (status["state"], status["status"]["error_code"]) == ("END", "UNKNOWN")
        assert status["status"]["error_message"]
        assert post_json(url + MODEL + ":predict", {"instances": [2.0]}) == (200, {"predictions": [3.0]})


def test_a_version_that_failed_to_load_is_retried_once_its_files_change(tmp_path):
    base, source = tmp_path / "base", tmp_path / "source"
    export_half_plus_two(base)
    export_half_plus_two(source, slope=1.0)
    copied = source / "half_plus_two" / "1"
    target = base / "half_plus_two" / "2"
    with serving(base, poll_seconds=0.1) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        target.mkdir()  # copied in file by file, as cp -r does: first part of saved_model.pb, the rest later
        (target / "saved_model.pb").write_bytes((copied / "saved_model.pb").read_bytes()[:100])
        wait_for(lambda: _status_versions(url) == ["2", "1"])
        shutil.copytree(copied, target, dirs_exist_ok=True)
        wait_for(lambda: _status_versions(url) == ["2"])
        assert post_json(url + MODEL + ":predict", {"instances": [2.0]}) == (200, {"predictions": [4.0]})
