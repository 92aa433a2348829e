"""``python -m zoo.serve``: the local stand-in for ``tensorflow_model_server``.

    python -m zoo.serve [--model-base saved_models] [--rest-port 8501] [--grpc-port 8500] [--host 127.0.0.1]
                        [--poll-seconds 1] [--enable-batching [--max-batch-size 32] [--batch-timeout-micros 2000]]
                        [--max-body-bytes 16777216] [--max-rows 256] [--max-elements 4194304]
                        [--max-string-bytes 8388608] [--max-generated-tokens 65536]
                        [--monitoring-config-file FILE]

Serves every model under the base directory (``BASE/NAME/<integer>/``) with TF Serving's REST and gRPC APIs
until interrupted; tensorflow-text's ops are loaded, as the stock server links them. A request larger than a
``--max-*`` limit is refused (REST 400/413, gRPC INVALID_ARGUMENT/RESOURCE_EXHAUSTED) before it is decoded or
run (past ``--max-generated-tokens``, which reads a generation request's scalars, once decoded but before it is
run). Exit status 2 on a usage error, 1 if it cannot start.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Sequence

from zoo.cli import OneLineParser
from zoo.errors import UsageError
from zoo.serve.batching import BatchingOptions
from zoo.serve.limits import RequestLimits


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m zoo.serve", description=__doc__.split("\n\n")[0], raises=True)
    parser.add_argument("--model-base", default="saved_models", help="directory of models (default: saved_models)")
    parser.add_argument("--rest-port", type=_port, default=8501, help="REST port (default: 8501; 0 picks a free one)")
    parser.add_argument("--grpc-port", type=_port, default=8500, help="gRPC port (default: 8500; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    parser.add_argument("--enable-batching", action="store_true", help="merge concurrent requests into batches")
    parser.add_argument("--max-batch-size", type=_positive, default=32, help="rows per merged batch (with batching)")
    parser.add_argument("--batch-timeout-micros", type=_non_negative, default=2000,
                        help="longest wait for a batch to fill (with batching)")
    limits = RequestLimits()
    parser.add_argument("--monitoring-config-file", metavar="FILE",
                        help="TF Serving's MonitoringConfig text proto; with prometheus_config { enable: true }, "
                             "metrics are served on its path (default /monitoring/prometheus/metrics)")
    parser.add_argument("--max-body-bytes", type=_positive, default=16 << 20,
                        help="largest REST body or gRPC message accepted (default: 16 MiB)")
    parser.add_argument("--max-rows", type=_positive, default=limits.max_rows,
                        help=f"most rows (dimension 0, or examples) in one request (default: {limits.max_rows})")
    parser.add_argument("--max-elements", type=_positive, default=limits.max_elements,
                        help=f"most tensor elements over all inputs of one request (default: {limits.max_elements})")
    parser.add_argument("--max-string-bytes", type=_positive, default=limits.max_string_bytes,
                        help=f"most bytes over all string inputs of one request (default: {limits.max_string_bytes})")
    parser.add_argument("--max-generated-tokens", type=_positive, default=limits.max_generated_tokens,
                        help="most tokens one generation request may ask for: rows x max(num_beams, "
                             f"num_return_sequences) x max_new_tokens (default: {limits.max_generated_tokens})")
    return parser


def _positive(text: str) -> int:
    value = int(text) if text.strip().isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"must be an integer of 0 or more, got {text}")
    return int(text)


def _port(text: str) -> int:
    if not (text.isascii() and text.strip().isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 0..65535, got {text}")
    return int(text)


def prometheus_metrics_path(monitoring_config_file: str | None) -> str | None:
    """Where ``--monitoring-config-file`` serves Prometheus metrics (None: no file, or metrics not enabled);
    UsageError for a file that cannot be read as a MonitoringConfig."""
    if not monitoring_config_file:
        return None
    from zoo.serve.monitoring_config import MonitoringConfigError, prometheus_path

    try:
        return prometheus_path(monitoring_config_file)
    except MonitoringConfigError as exc:
        raise UsageError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        metrics_path = prometheus_metrics_path(args.monitoring_config_file)
    except UsageError as exc:
        print(f"zoo.serve: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s zoo.serve %(levelname)s %(message)s")
    from zoo.serve.server import ModelServer

    batching = BatchingOptions(args.max_batch_size, args.batch_timeout_micros / 1e6) if args.enable_batching else None
    limits = RequestLimits(args.max_rows, args.max_elements, args.max_string_bytes, args.max_generated_tokens)
    server = ModelServer(args.model_base, rest_port=args.rest_port, grpc_port=args.grpc_port, host=args.host,
                         poll_seconds=args.poll_seconds, batching=batching, max_body_bytes=args.max_body_bytes,
                         limits=limits, metrics_path=metrics_path)
    try:
        server.start()
    except OSError as exc:
        print(f"zoo.serve: cannot start: {exc}", file=sys.stderr)
        return 1
    print(f"zoo.serve: REST http://{server.host}:{server.rest_port}  gRPC {server.host}:{server.grpc_port}", flush=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.request_stop())
    server.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
