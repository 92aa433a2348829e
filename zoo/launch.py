"""``python -m zoo.launch``: train one recipe on N local worker processes with ``MultiWorkerMirroredStrategy``.

    python -m zoo.launch --workers 2 cnn_mnist --set epochs=1 --set max_examples=256 --export-dir /tmp/zoo

Every option after the recipe name is passed to ``python -m zoo.run`` unchanged; the launcher adds
``--strategy multi_worker`` and gives each worker a ``TF_CONFIG`` naming a free port on 127.0.0.1 per
worker. Worker 0 is the chief: it alone publishes the export. Output is streamed line by line, prefixed
``[worker i]``. If any worker dies the others are stopped and the launcher says which one died.

Exit status follows ``zoo.run``: 0 done; 2 a usage error (checked before any worker starts, or reported by
a worker); 1 a worker failed or the ``--timeout`` ran out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import IO, Sequence

from zoo.errors import UsageError

USAGE = "python -m zoo.launch --workers N [--timeout SECONDS] RECIPE [zoo.run options]"
POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago.

    >>> len(set(free_ports(3)))
    3
    """
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:  # all held open together, so the kernel hands out distinct ports
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def tf_config(addresses: Sequence[str], index: int) -> str:
    """The ``TF_CONFIG`` JSON for worker ``index`` of a cluster of ``addresses`` (worker 0 is the chief).

    >>> json.loads(tf_config(["127.0.0.1:1", "127.0.0.1:2"], 1))["task"]
    {'type': 'worker', 'index': 1}
    """
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


def worker_commands(workers: int, run_args: Sequence[str], host: str = "127.0.0.1") -> list[tuple[list[str], dict]]:
    """One ``(argv, env)`` per worker: ``python -m zoo.run RUN_ARGS --strategy multi_worker`` with its TF_CONFIG.

    >>> argv, env = worker_commands(2, ["cnn_mnist"])[1]
    >>> argv[1:], json.loads(env["TF_CONFIG"])["task"]["index"]
    (['-m', 'zoo.run', 'cnn_mnist', '--strategy', 'multi_worker'], 1)
    """
    addresses = [f"{host}:{port}" for port in free_ports(workers, host)]
    argv = [sys.executable, "-m", "zoo.run", *run_args, "--strategy", "multi_worker"]
    return [
        (argv, {**os.environ, "TF_CONFIG": tf_config(addresses, i), "PYTHONUNBUFFERED": "1"})
        for i in range(workers)
    ]


def _stream(prefix: str, source: IO[str], lock: threading.Lock) -> None:
    for line in source:
        with lock:
            sys.stdout.write(f"{prefix} {line.rstrip()}\n")
            sys.stdout.flush()


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    """Terminate every process still running; kill those that ignore it for GRACE_SECONDS."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for process in running:
        try:
            process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def supervise(commands: Sequence[tuple[list[str], dict]], timeout: float | None = None) -> int:
    """Run the commands side by side, stream their output prefixed ``[worker i]``, and return an exit status.

    0 when all exit 0. When one fails, the others are stopped, the failure is reported on stderr, and its
    status is returned if it is zoo.run's usage status 2, else 1. Running past ``timeout`` seconds stops all, 1.

    >>> supervise([([sys.executable, "-c", "print('hi')"], dict(os.environ))])
    [worker 0] hi
    0
    """
    lock = threading.Lock()
    processes: list[subprocess.Popen] = []
    threads = []
    try:
        for index, (argv, env) in enumerate(commands):
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, bufsize=1)
            processes.append(process)
            thread = threading.Thread(target=_stream, args=(f"[worker {index}]", process.stdout, lock), daemon=True)
            thread.start()
            threads.append(thread)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            failed = [(i, p.returncode) for i, p in enumerate(processes) if p.poll() not in (None, 0)]
            if failed:
                index, status = failed[0]
                _stop(processes)
                _finish(threads)
                print(f"zoo.launch: worker {index} {_ending(status)}; stopped the other workers", file=sys.stderr)
                return 2 if status == UsageError.exit_code else 1
            if all(p.returncode == 0 for p in processes):
                _finish(threads)
                return 0
            if deadline is not None and time.monotonic() > deadline:
                _stop(processes)
                _finish(threads)
                print(f"zoo.launch: timed out after {timeout:g} s; stopped all workers", file=sys.stderr)
                return 1
            time.sleep(POLL_SECONDS)
    except BaseException:
        _stop(processes)
        raise


def _ending(status: int) -> str:
    """How a worker ended, from ``Popen.returncode`` (negative: the signal that killed it).

    >>> _ending(3), _ending(-9)
    ('exited with status 3', 'was killed by SIGKILL')
    """
    if status >= 0:
        return f"exited with status {status}"
    try:
        return f"was killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"was killed by signal {-status}"


def _finish(threads: Sequence[threading.Thread]) -> None:
    for thread in threads:
        thread.join(GRACE_SECONDS)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, as zoo.run does
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m zoo.launch", usage=USAGE, description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, required=True, metavar="N", help="worker processes (>= 1)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop every worker after this long")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, metavar="RECIPE ...", help="zoo.run arguments")
    return parser


def check_run_args(run_args: Sequence[str]) -> None:
    """Raise UsageError for arguments ``zoo.run`` would reject (unknown recipe, bad ``--set``), without training."""
    from zoo import registry
    from zoo.run import build_parser as run_parser, resolve_config

    args = run_parser().parse_args(list(run_args))
    if not args.recipe:
        raise UsageError("name a recipe to launch")
    if args.help or args.list:
        raise UsageError("--help and --list are zoo.run options; run `python -m zoo.run` for them")
    if args.strategy != "default":
        raise UsageError("zoo.launch sets --strategy multi_worker itself; leave --strategy out")
    for module in args.recipes:
        registry.load_module(module)
    resolve_config(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {args.workers}")
        if args.timeout is not None and args.timeout <= 0:
            raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
        check_run_args(args.run_args)
    except UsageError as exc:
        print(f"zoo.launch: error: {exc}", file=sys.stderr)
        return 2
    try:
        return supervise(worker_commands(args.workers, args.run_args), timeout=args.timeout)
    except KeyboardInterrupt:
        print("zoo.launch: interrupted; stopped all workers", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
