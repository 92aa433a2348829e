"""zoo.serve never answers 500 to bad input, stays up, and serves concurrent load across a version change."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading

import aiohttp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_support import export_half_plus_two, http, post_json, serving, wait_for
from zoo.serve.batching import Batcher, BatchingOptions

MODEL = "/v1/models/half_plus_two"
FUZZ_EXAMPLES = 100


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("robust")
    export_half_plus_two(root)
    with serving(root, max_body_bytes=64 * 1024) as server:
        yield server


@pytest.fixture
def url(server):
    return f"http://127.0.0.1:{server.rest_port}"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.sampled_from([10**400, -(10**400)]) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.fixed_dictionaries({"b64": st.text(max_size=8)}),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["x", "a", "n", "text", "b64", "instances", "inputs", "examples", "context"]), children,
        max_size=3),
    max_leaves=12,
)
_bodies = st.one_of(
    st.fixed_dictionaries({"instances": _json_values}, optional={
        "signature_name": st.sampled_from(["serving_default", "mixed", "classify_x_to_y", "nope", ""])}),
    st.fixed_dictionaries({"inputs": _json_values}, optional={"signature_name": st.sampled_from(["mixed", "x"])}),
    st.fixed_dictionaries({"examples": _json_values}, optional={
        "context": _json_values, "signature_name": st.sampled_from(["classify_x_to_y", "regress_x_to_y"])}),
    _json_values,
).map(json.dumps) | st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
_paths = st.sampled_from([MODEL + ":predict", MODEL + ":classify", MODEL + ":regress", MODEL + "/versions/1:predict",
                          MODEL + "/labels/%2E%2E:predict", "/v1/models/..%2F..%2Fetc:predict"])


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_paths, body=_bodies)
def test_fuzzed_bodies_never_500(url, path, body):
    status, text = http("POST", url + path, body.encode("utf-8", "surrogatepass"))
    assert status in (200, 400, 404), (status, text)
    if status != 200:
        assert set(json.loads(text)) == {"error"}


def test_server_still_answers_after_the_fuzzing(url):
    assert post_json(url + MODEL + ":predict", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


def test_body_over_the_limit_is_413(url):
    status, text = http("POST", url + MODEL + ":predict", '{"instances": [' + "1.0, " * 20000 + "1.0]}")
    assert status == 413 and "larger than the limit" in json.loads(text)["error"]


@pytest.mark.parametrize("path", [
    "/v1/models/..%2F..%2Fhalf_plus_two:predict", "/v1/models/%2E%2E:predict", "/v1/models/.tmp-1-1:predict",
    "/v1/models/half_plus_two/labels/..:predict", "/v1/models/half_plus_two/versions/-1:predict",
    "/v1/models/../half_plus_two:predict", "/v1/models/half_plus_two/versions/" + "9" * 5000 + ":predict",
])
def test_path_tricks_are_4xx(url, path):
    status, _ = http("POST", url + path, '{"instances": [1.0]}')
    assert 400 <= status < 500


def test_a_version_with_thousands_of_leading_zeros_is_still_a_number(url):
    too_long = http("POST", url + MODEL + "/versions/" + "9" * 5000 + ":predict", '{"instances": [1.0]}')
    assert too_long[0] == 400 and json.loads(too_long[1])["error"].startswith("Failed to convert version: 9999")
    path = url + MODEL + "/versions/" + "0" * 5000 + "1:predict"
    assert post_json(path, {"instances": [1.0]}) == (200, {"predictions": [2.5]})


@pytest.mark.parametrize("depth", [33, 65, 100, 400, 5000])
@pytest.mark.parametrize("key", ["instances", "inputs"])
def test_deeply_nested_json_is_400(url, key, depth):
    status, text = http("POST", url + MODEL + ":predict", f'{{"{key}": ' + "[" * depth + "1.0" + "]" * depth + "}")
    assert status == 400 and "error" in json.loads(text)


def _raw_request(server, data: bytes, half_close: bool) -> bytes:
    """Send ``data`` on a fresh socket (then shut down our sending side, or not) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.rest_port), timeout=30) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b""))


def _post(body: bytes, content_length: int | None = None) -> bytes:
    length = len(body) if content_length is None else content_length
    return (f"POST {MODEL}:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode() + body


def test_a_client_that_half_closes_after_a_complete_request_gets_the_answer(server):
    reply = _raw_request(server, _post(b'{"instances": [1.0]}'), half_close=True)
    assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'\r\n\r\n{"predictions": [2.5]}')


def test_an_abandoned_upload_logs_one_line_and_the_server_keeps_answering(server, url, caplog):
    caplog.set_level(logging.INFO, logger="zoo.serve")
    cut_short = _post(b'{"instances": [1.0, ', content_length=1000)
    assert _raw_request(server, cut_short, half_close=True) == b""  # closed at once, not left waiting for the rest
    records = wait_for(lambda: [r for r in caplog.records if r.name == "zoo.serve"])
    assert [(r.exc_info, "\n" in r.getMessage(), "disconnected" in r.getMessage()) for r in records] == [
        (None, False, True)]
    assert post_json(url + MODEL + ":predict", {"instances": [1.0]}) == (200, {"predictions": [2.5]})


async def _load(url: str, clients: int, minimum: int, on_start, enough) -> list[tuple[int, float, object]]:
    """``clients`` concurrent clients post predicts until ``minimum`` are done and ``enough(results)`` holds
    (at most 10x ``minimum``); ``on_start`` runs once a quarter of ``minimum`` is answered."""
    results: list[tuple[int, float, object]] = []

    async def client(session: aiohttp.ClientSession, index: int) -> None:
        while len(results) < 10 * minimum and not (len(results) >= minimum and enough(results)):
            x = float(index * 1000 + len(results) + 1)  # never 0, where both versions agree
            async with session.post(url + MODEL + ":predict", json={"instances": [x]}) as response:
                body = await response.json()
                results.append((response.status, x, body.get("predictions")))
            if len(results) == minimum // 4:
                on_start()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(client(session, n) for n in range(clients)))
    return results


@pytest.mark.slow
@pytest.mark.parametrize("batching", [None, BatchingOptions(max_batch_size=16, timeout_seconds=0.002)])
def test_load_with_a_new_version_exported_midway_has_no_errors(tmp_path, batching):
    export_half_plus_two(tmp_path)
    with serving(tmp_path, poll_seconds=0.05, batching=batching) as server:
        url = f"http://127.0.0.1:{server.rest_port}"
        exporter = threading.Thread(target=export_half_plus_two, kwargs={"root": tmp_path, "slope": 1.0})

        def answered_by_v2(results):
            return sum(y == [x + 2.0] for _, x, y in results) >= 32

        results = asyncio.run(_load(url, clients=16, minimum=320, on_start=exporter.start, enough=answered_by_v2))
        exporter.join(timeout=60)
    assert len(results) >= 320
    assert [r for r in results if r[0] != 200] == []
    by_version_1 = sum(y == [0.5 * x + 2.0] for _, x, y in results)
    by_version_2 = sum(y == [x + 2.0] for _, x, y in results)
    assert by_version_1 >= 320 // 4 and by_version_2 >= 32  # the version changed while under load
    assert by_version_1 + by_version_2 == len(results)  # and no answer came from anything else


def test_batcher_merges_concurrent_requests_and_isolates_a_failure():
    calls = []

    def run(signature, feeds, fetches):
        calls.append(len(feeds["x"]))
        if np.any(feeds["x"] < 0):
            raise ValueError("negative")
        return {"y": feeds["x"] * 2}

    batcher = Batcher(run, BatchingOptions(max_batch_size=8, timeout_seconds=0.3, num_threads=1))
    answers: dict[int, object] = {}

    def call(i, x):
        try:
            answers[i] = batcher.run("s", {"x": np.array([x])}, ("y",))["y"].tolist()
        except ValueError as exc:
            answers[i] = str(exc)

    def run_all(values):
        threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(values)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

    try:
        run_all([0.0, 1.0, 2.0, 3.0])
        assert answers == {0: [0.0], 1: [2.0], 2: [4.0], 3: [6.0]}
        assert max(calls) > 1  # merged into fewer session runs than requests
        calls.clear()
        answers.clear()
        run_all([0.0, 1.0, -1.0])
        assert answers == {0: [0.0], 1: [2.0], 2: "negative"}
    finally:
        batcher.close()
