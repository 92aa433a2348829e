"""Shared by the serve tests: a ``half_plus_two`` SavedModel written by zoo's own exporter, and a server (in this
process, or ``python -m zoo.serve`` as its own process).

``half_plus_two`` is the model TF Serving's own tests use (y = 0.5·x + 2), with its classify and regress
signatures, plus a ``mixed`` signature (float, int64 and string inputs; a ``_bytes`` string output) for the
JSON codec.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request

import numpy as np
import tensorflow as tf

from zoo.export import Endpoint, Servable, export
from zoo.export.signatures import CLASSIFY, REGRESS


def half_plus_two_servable(slope: float = 0.5) -> Servable:
    x_feature = {"x": tf.io.FixedLenFeature([1], tf.float32)}

    def from_examples(inputs):
        return slope * tf.io.parse_example(inputs, x_feature)["x"] + 2.0

    examples = np.array([tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[v]))})).SerializeToString() for v in (1.0, 2.0)],
        dtype=object)
    return Servable(tracked=[], endpoints={
        "serving_default": Endpoint(
            fn=lambda x: {"y": slope * x + 2.0},
            input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
            warmup={"x": np.array([1.0, 2.0, 5.0], np.float32)}),
        "classify_x_to_y": Endpoint(
            fn=lambda inputs: {"scores": from_examples(inputs)},
            input_signature=[tf.TensorSpec([None], tf.string, name="inputs")],
            warmup={"inputs": examples}, method=CLASSIFY),
        "regress_x_to_y": Endpoint(
            fn=lambda inputs: {"outputs": from_examples(inputs)[:, 0]},
            input_signature=[tf.TensorSpec([None], tf.string, name="inputs")],
            warmup={"inputs": examples}, method=REGRESS),
        "mixed": Endpoint(
            fn=lambda a, n, text: {"sum": a + tf.cast(n, tf.float32), "text_bytes": text,
                                   "length": tf.strings.length(text, unit="BYTE")},
            input_signature=[tf.TensorSpec([None], tf.float32, name="a"), tf.TensorSpec([None], tf.int64, name="n"),
                             tf.TensorSpec([None], tf.string, name="text")],
            warmup={"a": np.array([1.0], np.float32), "n": np.array([2], np.int64), "text": np.array([b"hi"], object)}),
    })


def export_half_plus_two(root, version: int | None = None, slope: float = 0.5):
    """Export ``half_plus_two`` under ``root`` with zoo's exporter (validation gate included)."""
    return export(half_plus_two_servable(slope), model_name="half_plus_two", export_root=root,
                  card={"config": {"slope": slope}, "metrics": {}, "data": {}}, version=version)


def http(method: str, url: str, body: bytes | str | None = None, timeout: float = 30) -> tuple[int, str]:
    """(status, body text) of one request; error statuses are returned, not raised."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with contextlib.closing(error):
            return error.code, error.read().decode()


def post_json(url: str, payload) -> tuple[int, dict]:
    status, text = http("POST", url, json.dumps(payload))
    return status, json.loads(text)


@contextlib.contextmanager
def serving(root, **options):
    """A ``ModelServer`` on free 127.0.0.1 ports for the block; stopped afterwards whatever happens."""
    from zoo.serve import ModelServer

    server = ModelServer(root, rest_port=0, grpc_port=0, host="127.0.0.1", **options).start()
    try:
        yield server
    finally:
        server.stop()


def serve_process(model_base, *flags: str, start_timeout: float = 300):
    """``python -m zoo.serve`` on free 127.0.0.1 ports in a clean environment, as users start it; SIGTERM after
    (:func:`bench.server_process.serve_process`, given the tests' environment)."""
    from bench.server_process import serve_process as started
    from zoo_subprocess import env_with

    return started(model_base, *flags, start_timeout=start_timeout, env=env_with())


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (AssertionError)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
