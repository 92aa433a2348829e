"""The load of ``python -m bench serve``: concurrent clients of a running ``zoo.serve`` (REST or gRPC), or callers of
the SavedModel in this process, each kind in a worker process of its own (:mod:`bench.timing`).

    python -m bench.serve_load clients -                  # handlers rest, grpc
    python -m bench.serve_load in_process VERSION_DIR     # handlers requests, call

Every handler that makes load keeps ``concurrency`` callers busy for ``seconds``: a caller sends its next request as
soon as its last one is answered, and a request sent before the deadline is waited for. The rows sent are those of
``requests`` (what :func:`request_rows` returns, JSON), taken in turn from a different place for each caller, ``batch``
rows per request. Every request must succeed; the figures are :func:`load_figures`. The clients send what any client
would: REST JSON (TF Serving's columnar ``inputs``), gRPC ``PredictRequest`` protos built before the clock starts.
The in-process callers run the version as ``zoo.serve`` does (:class:`zoo.serve.loader.LoadedVersion`: TF Serving's
session loader, its warmup replayed), without any server in between.

>>> load_figures([(0.010, 1), (0.030, 1), (0.020, 2)], elapsed=0.5)["rows_per_second"]
8.0
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from bench import timing

Requests = Mapping[str, Any]  # {"signature": name, "inputs": {alias: {"dtype": str, "rows": [value, ...]}}}


def load_figures(calls: Sequence[tuple[float, int]], elapsed: float) -> dict[str, float]:
    """Figures of ``calls`` (seconds, rows) made in ``elapsed`` seconds: rows and calls per second, latency per call
    (p50, p99, max, in ms), mean rows per call.

    >>> figures = load_figures([(0.010, 1), (0.030, 1)], elapsed=0.1)
    >>> figures["rows_per_second"], figures["p50_ms"], figures["p99_ms"], figures["max_ms"], figures["rows_per_call"]
    (20.0, 20.0, 29.8, 30.0, 1.0)
    """
    seconds = np.array([s for s, _ in calls]) * 1000
    rows = sum(n for _, n in calls)
    return {"calls": len(calls), "rows": rows, "rows_per_second": round(rows / elapsed, 3),
            "calls_per_second": round(len(calls) / elapsed, 3), "p50_ms": round(float(np.percentile(seconds, 50)), 2),
            "p99_ms": round(float(np.percentile(seconds, 99)), 2), "max_ms": round(float(seconds.max()), 2),
            "rows_per_call": round(rows / len(calls), 2)}


def row_count(requests: Requests) -> int:
    return len(next(iter(requests["inputs"].values()))["rows"])


def feeds(requests: Requests, start: int, batch: int) -> dict[str, np.ndarray]:
    """Rows ``start`` … ``start + batch - 1`` (wrapping round) of every input, as the arrays a session is fed.

    >>> feeds({"inputs": {"text": {"dtype": "string", "rows": ["a", "b", "c"]}}}, 2, 2)["text"].tolist()
    [b'c', b'a']
    """
    arrays = {}
    for alias, column in requests["inputs"].items():
        rows = [column["rows"][(start + i) % len(column["rows"])] for i in range(batch)]
        arrays[alias] = (np.array([r.encode() for r in rows], dtype=object) if column["dtype"] == "string"
                         else np.array(rows, dtype=column["dtype"]))
    return arrays


def busy_threads(call: Callable[[int], int], concurrency: int, seconds: float) -> dict[str, float]:
    """``concurrency`` threads calling ``call(i)`` (i: this caller's running count, offset per caller; it returns
    the rows it sent) until ``seconds`` have passed; the first exception of any caller is raised."""
    calls: list[tuple[float, int]] = []
    errors: list[BaseException] = []
    deadline = time.perf_counter() + seconds

    def caller(offset: int) -> None:
        count = offset
        try:
            while time.perf_counter() < deadline and not errors:
                started = time.perf_counter()
                rows = call(count)
                calls.append((time.perf_counter() - started, rows))
                count += 1
        except BaseException as error:  # raised in the worker's thread below, with its type and message
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=caller, args=(7 * i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return load_figures(calls, time.perf_counter() - started)


# ------------------------------------------------------------------------------ in process
def in_process_handlers(version_dir: str) -> dict[str, Callable[..., Any]]:
    """``requests`` (:func:`request_rows` of this version) and ``call``: ``concurrency`` threads running the version's
    signature on ``batch`` rows at a time, in this process."""
    from zoo.serve.loader import LoadedVersion

    path = Path(version_dir)
    model = LoadedVersion(path.parent.name, int(path.name), path)

    def call(requests: Requests, batch: int, concurrency: int, seconds: float) -> dict[str, float]:
        count = row_count(requests)
        # every call's feeds built before the clock starts, as the gRPC client builds its protos
        batches = [feeds(requests, (i * batch) % count, batch) for i in range(count)]

        def one(i: int) -> int:
            model.run(requests["signature"], batches[i % count])
            return batch

        return busy_threads(one, concurrency, seconds)

    return {"requests": lambda signature, texts=None: request_rows(path, signature, texts), "call": call}


def request_rows(version_dir: Path, signature: str, texts: Sequence[str] | None = None) -> dict[str, Any]:
    """The rows to send to ``signature``: those of the version's first predict warmup request for it, one row per
    request. With ``texts``, one row per text: the signature's string input holds the text, any other input its
    warmup's first row; the signature must then have exactly one string input."""
    from zoo.export.warmup import WARMUP_FILE, read_warmup, request_feeds

    found = [request_feeds(log) for log in read_warmup(version_dir / "assets.extra" / WARMUP_FILE)
             if log.WhichOneof("log_type") == "predict_log"]
    arrays = next((feeds for name, feeds in found if name == signature), None)
    if arrays is None:
        raise ValueError(f"{version_dir} has no predict warmup request for {signature} to take its inputs from")
    strings = [alias for alias, array in arrays.items() if array.dtype == object]
    if texts is not None and len(strings) != 1:
        raise ValueError(f"texts need a signature with one string input; {signature} has {sorted(strings) or 'none'}")
    rows = len(texts) if texts is not None else len(next(iter(arrays.values())))
    inputs = {}
    for alias, array in arrays.items():
        if texts is not None:
            values = list(texts) if alias in strings else [array[0].tolist()] * rows
        else:
            values = [v.decode() if isinstance(v, bytes) else v for v in array.tolist()]
        inputs[alias] = {"dtype": "string" if array.dtype == object else array.dtype.name, "rows": values}
    return {"signature": signature, "inputs": inputs}


# ------------------------------------------------------------------------------ clients of a server
def client_handlers(_: str) -> dict[str, Callable[..., Any]]:
    """``rest`` and ``grpc``: ``concurrency`` clients of a server, one row per request."""
    return {"rest": rest_load, "grpc": grpc_load}


def rest_load(url: str, model: str, requests: Requests, concurrency: int, seconds: float) -> dict[str, float]:
    """``concurrency`` clients POSTing ``URL/v1/models/MODEL:predict``, one row each, from one event loop."""
    import aiohttp

    count = row_count(requests)
    bodies = [{"signature_name": requests["signature"],
               "inputs": {alias: [column["rows"][i]] for alias, column in requests["inputs"].items()}}
              for i in range(count)]
    calls: list[tuple[float, int]] = []
    endpoint = f"{url}/v1/models/{model}:predict"

    async def client(session: aiohttp.ClientSession, offset: int, deadline: float) -> None:
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.post(endpoint, json=bodies[i % count]) as response:
                text = await response.text()
                if response.status != 200:
                    raise RuntimeError(f"REST {response.status}: {text[:300]}")
            calls.append((time.perf_counter() - started, 1))
            i += 1

    async def clients() -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            started = time.perf_counter()
            await asyncio.gather(*(client(session, 7 * i, started + seconds) for i in range(concurrency)))
            return time.perf_counter() - started

    elapsed = asyncio.run(clients())
    return load_figures(calls, elapsed)


def grpc_load(target: str, model: str, requests: Requests, concurrency: int, seconds: float) -> dict[str, float]:
    """``concurrency`` clients calling ``PredictionService.Predict`` at ``target`` over one channel, one row each."""
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    protos = []
    for i in range(row_count(requests)):
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.signature_name = model, requests["signature"]
        for alias, array in feeds(requests, i, 1).items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(array))
        protos.append(request)
    with grpc.insecure_channel(target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def one(i: int) -> int:
            stub.Predict(protos[i % len(protos)], timeout=600)
            return 1

        return busy_threads(one, concurrency, seconds)


WORKERS = {"in_process": in_process_handlers, "clients": client_handlers}


def main(argv: list[str] | None = None) -> int:
    """A worker: ``python -m bench.serve_load in_process VERSION_DIR`` or ``python -m bench.serve_load clients -``."""
    return timing.engine_main(WORKERS, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
