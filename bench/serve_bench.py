"""Throughput and latency of ``zoo.serve`` (REST and gRPC, with and without batching) vs the SavedModel in-process.

Each request is one example: the first row of the served version's own warmup request. Every mode runs
``--concurrency`` clients for ``--seconds``, in each of ``--rounds`` rounds (modes alternate within a round);
each figure is the median over rounds. The table goes to stdout and the numbers to ``bench/results/serve.json``.

    python -m bench serve        # exports a one-epoch cnn_mnist (same network as the default) to a scratch dir
    python -m bench.serve_bench --model-base saved_models --model cnn_mnist [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import aiohttp
import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from bench.common import BenchRecord, run_recipe
from zoo.export.versions import existing_versions
from zoo.export.warmup import WARMUP_FILE, read_warmup, request_feeds
from zoo.serve import BatchingOptions, ModelServer
from zoo.serve.loader import LoadedVersion


def one_example(version_dir: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The signature and first row of the version's first predict warmup record."""
    for log in read_warmup(version_dir / "assets.extra" / WARMUP_FILE):
        if log.WhichOneof("log_type") == "predict_log":
            signature, feeds = request_feeds(log)
            return signature, {name: value[:1] for name, value in feeds.items()}
    raise SystemExit(f"{version_dir} has no predict warmup record to benchmark with")


def json_value(array: np.ndarray):
    if array.dtype == object:
        return [{"b64": base64.b64encode(v).decode()} for v in array.ravel()]
    return array.tolist()


def stats(latencies: list[float], seconds: float) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {"requests": len(ms), "throughput_rps": len(ms) / seconds,
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def threaded(call: Callable[[], None], clients: int, seconds: float) -> dict[str, float]:
    """Run ``call`` from ``clients`` threads for ``seconds``; every call must succeed."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def client():
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            call()
            latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats(latencies, time.perf_counter() - started)


def rest(url: str, payload: dict, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession, deadline: float):
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            async with session.post(url, json=payload) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"REST {response.status}: {await response.text()}")
            latencies.append(time.perf_counter() - start)

    async def run():
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
            deadline = time.perf_counter() + seconds
            await asyncio.gather(*(client(session, deadline) for _ in range(clients)))

    started = time.perf_counter()
    asyncio.run(run())
    return stats(latencies, time.perf_counter() - started)


SCRATCH_MODEL = "cnn_mnist"
SCRATCH_OVERRIDES = {"epochs": 1, "max_examples": 2048}  # the default network: serving cost does not depend on training
SECONDS, CONCURRENCY, ROUNDS = 10.0, 16, 3


def one_round(model_base: Path, model: str, version: int, clients: int, seconds: float) -> dict[str, dict[str, float]]:
    """Every mode once: in-process session, then REST and gRPC without and with batching."""
    version_dir = model_base / model / str(version)
    signature, feeds = one_example(version_dir)
    results: dict[str, dict[str, float]] = {}
    loaded = LoadedVersion(model, version, version_dir)
    try:
        results["in-process session"] = threaded(lambda: loaded.run(signature, feeds), clients, seconds)
    finally:
        loaded.retire()

    payload = {"signature_name": signature, "inputs": {k: json_value(v) for k, v in feeds.items()}}
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model, signature
    for name, value in feeds.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    for label, batching in (("", None), (" + batching", BatchingOptions(max_batch_size=clients))):
        server = ModelServer(str(model_base), rest_port=0, grpc_port=0, batching=batching).start()
        try:
            url = f"http://127.0.0.1:{server.rest_port}/v1/models/{model}:predict"
            results["REST" + label] = rest(url, payload, clients, seconds)
            with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
                stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
                results["gRPC" + label] = threaded(lambda: stub.Predict(request, timeout=60), clients, seconds)
        finally:
            server.stop()
    return results


def median_of_rounds(rounds: Sequence[dict[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Per mode: the median of each figure over rounds, the per-round throughputs, and the ratio to in-process.

    >>> r = [{"a": {"throughput_rps": t, "p50_ms": 1.0}} for t in (10.0, 30.0, 20.0)]
    >>> median_of_rounds(r)["a"]
    {'throughput_rps': 20.0, 'p50_ms': 1.0, 'rounds_rps': [10.0, 30.0, 20.0], 'ratio_vs_in_process': None}
    """
    table: dict[str, dict[str, Any]] = {}
    for mode in rounds[0]:
        figures = {key: statistics.median(r[mode][key] for r in rounds) for key in rounds[0][mode]}
        table[mode] = {**figures, "rounds_rps": [round(r[mode]["throughput_rps"], 1) for r in rounds]}
    baseline = table.get("in-process session", {}).get("throughput_rps")
    for figures in table.values():
        figures["ratio_vs_in_process"] = round(figures["throughput_rps"] / baseline, 3) if baseline else None
    return table


def print_table(model: str, version: int, clients: int, seconds: float, table: dict[str, dict[str, Any]]) -> None:
    print(f"{model} v{version}, one example per request, {clients} clients, {seconds:g} s per mode, "
          f"median of {len(next(iter(table.values()))['rounds_rps'])} rounds")
    print(f"{'mode':<22}{'req/s':>9}{'vs in-process':>15}{'p50 ms':>9}{'p99 ms':>9}")
    for mode, r in table.items():
        print(f"{mode:<22}{r['throughput_rps']:>9.0f}{r['ratio_vs_in_process']:>15.2f}{r['p50_ms']:>9.2f}"
              f"{r['p99_ms']:>9.2f}")


def measure(record: BenchRecord, model_base: Path, model: str, clients: int, seconds: float, rounds: int) -> None:
    """Serve the newest version of ``model`` under ``model_base``; record the median-of-rounds table."""
    versions = existing_versions(model_base / model)
    if not versions:
        raise SystemExit(f"no versions under {model_base / model}: export one first (python -m zoo.run {model})")
    record.add("setup", {"model": model, "version": versions[-1], "concurrency": clients, "seconds_per_mode": seconds,
                         "rounds": rounds})
    measured = []
    for _ in range(rounds):
        measured.append(one_round(model_base, model, versions[-1], clients, seconds))
        record.add("results", median_of_rounds(measured))
    print_table(model, versions[-1], clients, seconds, record.payload["results"])


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    """``python -m bench serve``: a scratch export of the default network, served (a speed: ``seeds`` is not
    used)."""
    export = run_recipe(SCRATCH_MODEL, **SCRATCH_OVERRIDES).export.path
    measure(record, export.parents[1], SCRATCH_MODEL, CONCURRENCY, SECONDS, ROUNDS)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", type=Path, default=Path("saved_models"))
    parser.add_argument("--model", default=SCRATCH_MODEL)
    parser.add_argument("--seconds", type=float, default=SECONDS, help="per mode and round")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    measure(BenchRecord("serve", args.results_dir), args.model_base, args.model, args.concurrency, args.seconds,
            args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
