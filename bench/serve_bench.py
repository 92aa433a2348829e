"""Throughput and latency of ``zoo.serve`` (REST and gRPC, with and without batching) vs the SavedModel in-process.

Each request is one example: the first row of the served version's own warmup request. Every mode runs
``--concurrency`` clients for ``--seconds``; the table goes to stdout and the numbers to
``bench/results/serve.json``.

    python -m bench.serve_bench --model-base saved_models --model cnn_mnist [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import threading
import time
from pathlib import Path
from typing import Callable

import aiohttp
import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", default="saved_models")
    parser.add_argument("--model", default="cnn_mnist")
    parser.add_argument("--seconds", type=float, default=10.0, help="per mode")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--output", default="bench/results/serve.json")
    args = parser.parse_args(argv)

    model_dir = Path(args.model_base) / args.model
    versions = existing_versions(model_dir)
    if not versions:
        raise SystemExit(f"no versions under {model_dir}: export one first (python -m zoo.run {args.model})")
    version_dir = model_dir / str(versions[-1])
    signature, feeds = one_example(version_dir)
    results: dict[str, dict[str, float]] = {}

    model = LoadedVersion(args.model, versions[-1], version_dir)
    try:
        results["in-process session"] = threaded(lambda: model.run(signature, feeds), args.concurrency, args.seconds)
    finally:
        model.retire()

    payload = {"signature_name": signature, "inputs": {k: json_value(v) for k, v in feeds.items()}}
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = args.model, signature
    for name, value in feeds.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    for label, batching in (("", None), (" + batching", BatchingOptions(max_batch_size=args.concurrency))):
        server = ModelServer(args.model_base, rest_port=0, grpc_port=0, batching=batching).start()
        try:
            url = f"http://127.0.0.1:{server.rest_port}/v1/models/{args.model}:predict"
            results["REST" + label] = rest(url, payload, args.concurrency, args.seconds)
            with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
                stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
                results["gRPC" + label] = threaded(lambda: stub.Predict(request, timeout=60), args.concurrency,
                                                   args.seconds)
        finally:
            server.stop()

    baseline = results["in-process session"]["throughput_rps"]
    print(f"{args.model} v{versions[-1]}, one example per request, {args.concurrency} clients, {args.seconds:g} s per mode")
    print(f"{'mode':<22}{'requests':>9}{'req/s':>9}{'vs in-process':>15}{'p50 ms':>9}{'p99 ms':>9}")
    for mode, r in results.items():
        r["ratio_vs_in_process"] = r["throughput_rps"] / baseline
        print(f"{mode:<22}{r['requests']:>9}{r['throughput_rps']:>9.0f}{r['ratio_vs_in_process']:>15.2f}"
              f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"model": args.model, "version": versions[-1], "concurrency": args.concurrency,
                                  "seconds_per_mode": args.seconds, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
