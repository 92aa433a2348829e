"""Prometheus metrics under TF Serving's names: the rendering, the MonitoringConfig file, and ``python -m zoo.serve
--monitoring-config-file`` scraped after REST and gRPC requests, as Prometheus would scrape it."""

from __future__ import annotations

import re

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serve_support import export_half_plus_two, http, serve_process
from zoo.serve.__main__ import main
from zoo.serve.metrics import LATENCY_BUCKETS, ServingMetrics
from zoo.serve.monitoring_config import DEFAULT_PATH, MonitoringConfigError, prometheus_path


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name{labels}`` in Prometheus text (labels given are matched, others ignored)."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\S+?)\{(.*)\} (\S+)", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2)))
            if all(found.get(k) == v for k, v in labels.items()):
                return float(match.group(3))
    raise AssertionError(f"no sample {name}{labels} in:\n{text}")


def test_latency_is_a_cumulative_histogram_in_microseconds_with_tf_servings_buckets():
    metrics = ServingMetrics()
    for seconds in (0.000005, 0.0005, 0.0005, 3000.0):
        metrics.record_request("m", "Predict", "REST", "OK", seconds)
    text = metrics.render()
    name = ":tensorflow:serving:request_latency"
    assert len(LATENCY_BUCKETS) == 33 and LATENCY_BUCKETS[0] == 10 and LATENCY_BUCKETS[1] == pytest.approx(18)
    assert sample(text, f"{name}_bucket", le="10") == 1  # 5 µs
    assert sample(text, f"{name}_bucket", le=f"{LATENCY_BUCKETS[6]:.10g}") == 1  # 340 µs: 500 µs is above it
    assert sample(text, f"{name}_bucket", le=f"{LATENCY_BUCKETS[7]:.10g}") == 3  # 612 µs
    assert sample(text, f"{name}_bucket", le=f"{LATENCY_BUCKETS[-1]:.10g}") == 3  # 10 × 1.8^32 µs is 25 minutes
    assert sample(text, f"{name}_bucket", le="+Inf") == 4
    assert sample(text, f"{name}_count", API="Predict", entrypoint="REST") == 4
    assert sample(text, f"{name}_sum") == pytest.approx(5 + 500 + 500 + 3e9)
    assert "# TYPE :tensorflow:serving:request_latency histogram" in text


def test_counters_keep_each_label_set_apart_and_escape_label_values():
    metrics = ServingMetrics()
    metrics.record_request('odd"name\\', "Classify", "GRPC", "NOT_FOUND", 0.001)
    metrics.record_request("m", "Predict", "GRPC", "OK", 0.001)
    metrics.record_request("m", "Predict", "GRPC", "OK", 0.001)
    metrics.record_batch("m", "serving_default", 7)
    metrics.record_load("/models/m/1", succeeded=False)
    text = metrics.render()
    assert ':tensorflow:serving:request_count{model_name="odd\\"name\\\\",status="NOT_FOUND"} 1' in text
    assert sample(text, ":tensorflow:serving:request_count", model_name="m", status="OK") == 2
    assert sample(text, ":tensorflow:serving:batching:processed_batch_size_v2", model_name="m",
                  op_name="serving_default", batch_size="7") == 1
    assert sample(text, ":tensorflow:cc:saved_model:load_attempt_count", model_path="/models/m/1", status="fail") == 1
    assert ServingMetrics().render() == "\n"  # nothing counted yet: no samples


@pytest.mark.parametrize("text, expected", [
    ('prometheus_config { enable: true, path: "/metrics" }', "/metrics"),
    ("prometheus_config { enable: true }", DEFAULT_PATH),
    ('prometheus_config { enable: false, path: "/metrics" }', None),
    ("", None),
])
def test_the_monitoring_config_says_whether_and_where(tmp_path, text, expected):
    path = tmp_path / "monitoring.config"
    path.write_text(text)
    assert prometheus_path(path) == expected


@pytest.mark.parametrize("text, message", [
    ("prometheus_config { enable: maybe }", "monitoring config .*monitoring.config: 1:"),
    ("grafana_config { enable: true }", "has no field named \"grafana_config\""),
    ('prometheus_config { enable: true, path: "metrics" }', "must start with '/'"),
])
def test_a_bad_monitoring_config_is_one_line_naming_the_file(tmp_path, capsys, text, message):
    path = tmp_path / "monitoring.config"
    path.write_text(text)
    with pytest.raises(MonitoringConfigError, match=message):
        prometheus_path(path)
    assert main(["--monitoring-config-file", str(path), "--model-base", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0]


@pytest.mark.slow
def test_the_cli_serves_tf_serving_metrics_on_the_configured_path(tmp_path):
    export_half_plus_two(tmp_path / "models")
    config = tmp_path / "monitoring.config"
    config.write_text('prometheus_config {\n  enable: true\n  path: "/monitoring/prometheus/metrics"\n}\n')
    with serve_process(tmp_path / "models", "--monitoring-config-file", str(config), "--enable-batching") as server:
        url = f"{server.rest_url}/v1/models/half_plus_two:predict"
        assert http("POST", url, '{"instances": [1.0, 2.0]}')[0] == 200
        assert http("POST", url, '{"instances": "not a list"}')[0] == 400
        assert http("POST", f"{server.rest_url}/v1/models/nope:predict", '{"instances": [1.0]}')[0] == 404
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "half_plus_two"
        request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array([1.0, 2.0, 5.0], np.float32)))
        with grpc.insecure_channel(server.grpc_target) as channel:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
        status, text = http("GET", f"{server.rest_url}/monitoring/prometheus/metrics")
    assert status == 200
    count = ":tensorflow:serving:request_count"
    assert sample(text, count, model_name="half_plus_two", status="OK") == 2  # one REST, one gRPC
    assert sample(text, count, model_name="half_plus_two", status="INVALID_ARGUMENT") == 1
    assert sample(text, count, model_name="nope", status="NOT_FOUND") == 1
    latency = ":tensorflow:serving:request_latency_count"
    assert sample(text, latency, model_name="half_plus_two", API="Predict", entrypoint="REST") == 2
    assert sample(text, latency, model_name="half_plus_two", API="Predict", entrypoint="GRPC") == 1
    batches = ":tensorflow:serving:batching:processed_batch_size_v2"
    assert sample(text, batches, model_name="half_plus_two", op_name="serving_default", batch_size="3") >= 1
    assert sample(text, ":tensorflow:cc:saved_model:load_attempt_count", status="success") == 1
