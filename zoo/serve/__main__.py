"""``python -m zoo.serve``: the local stand-in for ``tensorflow_model_server``.

    python -m zoo.serve [--model-base saved_models] [--rest-port 8501] [--grpc-port 8500] [--host 127.0.0.1]
                        [--poll-seconds 1] [--enable-batching [--max-batch-size 32] [--batch-timeout-micros 2000]]
                        [--max-body-bytes 67108864]

Serves every model under the base directory (``BASE/NAME/<integer>/``) with TF Serving's REST and gRPC APIs
until interrupted. Exit status 2 on a usage error, 1 if it cannot start.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Sequence

from zoo.serve.batching import BatchingOptions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zoo.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", default="saved_models", help="directory of models (default: saved_models)")
    parser.add_argument("--rest-port", type=int, default=8501, help="REST port (default: 8501; 0 picks a free one)")
    parser.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (default: 8500; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often to look for new versions")
    parser.add_argument("--enable-batching", action="store_true", help="merge concurrent requests into batches")
    parser.add_argument("--max-batch-size", type=int, default=32, help="rows per merged batch (with batching)")
    parser.add_argument("--batch-timeout-micros", type=int, default=2000,
                        help="longest wait for a batch to fill (with batching)")
    parser.add_argument("--max-body-bytes", type=int, default=64 << 20,
                        help="largest REST body or gRPC message accepted (default: 64 MiB)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0 <= args.rest_port < 65536 or not 0 <= args.grpc_port < 65536:
        print("zoo.serve: error: ports must be in 0..65535", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s zoo.serve %(levelname)s %(message)s")
    from zoo.serve.server import ModelServer

    batching = BatchingOptions(args.max_batch_size, args.batch_timeout_micros / 1e6) if args.enable_batching else None
    server = ModelServer(args.model_base, rest_port=args.rest_port, grpc_port=args.grpc_port, host=args.host,
                         poll_seconds=args.poll_seconds, batching=batching, max_body_bytes=args.max_body_bytes)
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
