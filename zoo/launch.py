"""``python -m zoo.launch``: train one recipe on several worker processes with ``MultiWorkerMirroredStrategy``.

    python -m zoo.launch --workers 2 cnn_mnist --set epochs=1 --set max_examples=256 --export-dir /tmp/zoo
    python -m zoo.launch --cluster host-a:2222,host-b:2222 --index 1 cnn_mnist ...   # on host-b

Every option after the recipe name is passed to ``python -m zoo.run`` unchanged; the launcher adds
``--strategy multi_worker`` and gives each worker its ``TF_CONFIG``. ``--workers N`` starts N workers on this
machine, one free port on 127.0.0.1 each. ``--cluster`` lists every worker of a cluster of hosts and ``--index I``
says which one this host runs: each host runs the same command with its own index. Worker 0 is the chief: it alone
publishes the export, and its output is shown whole, prefixed ``[worker 0]``. Another worker shows only what it
writes to stderr (warnings and errors), prefixed ``[worker I]``; its full output goes to
``RUN_DIR/worker-I/output.log``. If any worker dies the others are stopped and the launcher says which one died.

``--max-restarts N`` (with ``--workers``): when a worker dies, stop all of them and start all again, up to N
times; each resumes from the last epoch its run directory's backup holds (the launcher first makes every worker's
backup the newest complete one, so all resume from the same epoch).

Exit status follows ``zoo.run``: 0 done; 2 a usage error (checked before any worker starts, or reported by
a worker); 1 a worker failed (after any restarts) or the ``--timeout`` ran out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Sequence

from zoo.cli import OneLineParser
from zoo.errors import UsageError
from zoo.run_files import METADATA, WEIGHTS, record_digests, saved_epoch, trusted_pair, worker_run_dir

USAGE = ("python -m zoo.launch (--workers N | --cluster HOST:PORT,HOST:PORT[,...] --index I) [--max-restarts N] "
         "[--timeout SECONDS] RECIPE [zoo.run options]")
POLL_SECONDS = 0.2
GRACE_SECONDS = 5.0
OUTPUT_LOG = "output.log"  # a non-chief worker's full output, in its run directory
EPOCH_LINE = re.compile(r"Epoch (\d+)/(\d+)$")  # what Keras' fit prints as an epoch begins


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


def parse_cluster(text: str) -> list[str]:
    """``--cluster``'s value: comma-separated ``HOST:PORT`` addresses, distinct; UsageError naming a bad one.

    >>> parse_cluster("host-a:2222,10.0.0.2:2222")
    ['host-a:2222', '10.0.0.2:2222']
    >>> parse_cluster("host-a")
    Traceback (most recent call last):
    ...
    zoo.errors.UsageError: --cluster: 'host-a' is not HOST:PORT (a port from 1 to 65535)
    """
    addresses = [item.strip() for item in text.split(",")]
    for address in addresses:
        host, _, port = address.rpartition(":")
        bracketed = host.startswith("[") and host.endswith("]")  # an IPv6 address, [::1]:2222
        if (not host or any(c.isspace() for c in host) or (":" in host and not bracketed)
                or not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535):
            raise UsageError(f"--cluster: {address!r} is not HOST:PORT (a port from 1 to 65535)")
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        raise UsageError(f"--cluster names {duplicates[0]} more than once; each worker needs its own address")
    return addresses


def _command(addresses: Sequence[str], index: int, run_args: Sequence[str]) -> tuple[list[str], dict]:
    argv = [sys.executable, "-m", "zoo.run", *run_args, "--strategy", "multi_worker"]
    return argv, {**os.environ, "TF_CONFIG": tf_config(addresses, index), "PYTHONUNBUFFERED": "1"}


def worker_commands(workers: int, run_args: Sequence[str], host: str = "127.0.0.1") -> list[tuple[list[str], dict]]:
    """One ``(argv, env)`` per worker: ``python -m zoo.run RUN_ARGS --strategy multi_worker`` with its TF_CONFIG.

    Every call picks new free ports, the same cluster for all the commands it returns.

    >>> argv, env = worker_commands(2, ["cnn_mnist"])[1]
    >>> argv[1:], json.loads(env["TF_CONFIG"])["task"]["index"]
    (['-m', 'zoo.run', 'cnn_mnist', '--strategy', 'multi_worker'], 1)
    """
    addresses = [f"{host}:{port}" for port in free_ports(workers, host)]
    return [_command(addresses, i, run_args) for i in range(workers)]


def cluster_command(addresses: Sequence[str], index: int, run_args: Sequence[str]) -> tuple[list[str], dict]:
    """The ``(argv, env)`` of worker ``index`` of the cluster ``addresses`` (``--cluster``/``--index``).

    >>> argv, env = cluster_command(["a:1", "b:1"], 1, ["cnn_mnist"])
    >>> json.loads(env["TF_CONFIG"])
    {'cluster': {'worker': ['a:1', 'b:1']}, 'task': {'type': 'worker', 'index': 1}}
    """
    return _command(addresses, index, run_args)


# ----------------------------------------------------------------------------------------- backups
def align_backups(backup_dirs: Sequence[Path]) -> tuple[int, Path] | None:
    """Give every worker the newest complete backup among ``backup_dirs`` (one per worker); return its epoch and
    the folder it came from, or None when no worker has one.

    Synchronous replicas hold the same weights after an epoch, so any worker's checkpoint of epoch E is every
    worker's. A worker killed between the chief's save and its own would otherwise resume one epoch behind the
    others, and the cluster would not agree on how many steps are left.
    """
    found = {directory: saved_epoch(directory) for directory in backup_dirs}
    usable = [(epoch, directory) for directory, epoch in found.items() if epoch is not None]
    if not usable:
        return None
    epoch, source = max(usable, key=lambda item: item[0])
    weights, metadata = trusted_pair(source)
    for directory, saved in found.items():
        if saved == epoch:
            continue
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        shutil.copyfile(weights, directory / WEIGHTS)
        shutil.copyfile(metadata, directory / METADATA)
        record_digests(directory)
    return epoch, source


# --------------------------------------------------------------------------------------- supervising
@dataclass
class Worker:
    """One worker process to start: its index in the cluster, command, environment, and (None for the chief: all
    of its output on the console) the file its full output goes to, only its stderr being shown."""

    index: int
    argv: list[str]
    env: dict
    log: Path | None = None


@dataclass
class _Attempt:
    """The running workers of one attempt, and what their output has told."""

    workers: Sequence[Worker]
    lock: threading.Lock
    number: int = 0  # 0: the first start; k: the k-th restart
    of: int = 0
    processes: list[subprocess.Popen] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    files: list[IO[str]] = field(default_factory=list)
    epochs: dict[int, tuple[int, int]] = field(default_factory=dict)  # worker index -> the epoch it last began
    resumed_said: bool = False

    def start(self) -> None:
        for worker in self.workers:
            if worker.log is None:
                process = subprocess.Popen(worker.argv, env=worker.env, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
                self.processes.append(process)
                self._relay(worker, process.stdout, console=True, log=None)
                continue
            worker.log.parent.mkdir(parents=True, exist_ok=True)
            log = open(worker.log, "a", encoding="utf-8", errors="replace")
            self.files.append(log)
            restart = f", restart {self.number} of {self.of}" if self.number else ""
            log.write(f"--- zoo.launch: worker {worker.index}{restart}, {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n")
            log.flush()
            process = subprocess.Popen(worker.argv, env=worker.env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
            self.processes.append(process)
            self._relay(worker, process.stdout, console=False, log=log)
            self._relay(worker, process.stderr, console=True, log=log)

    def _relay(self, worker: Worker, source: IO[str], console: bool, log: IO[str] | None) -> None:
        thread = threading.Thread(target=self._stream, args=(worker.index, source, console, log), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _stream(self, index: int, source: IO[str], console: bool, log: IO[str] | None) -> None:
        for line in source:
            line = line.rstrip()
            with self.lock:
                epoch = EPOCH_LINE.match(line)
                if epoch:
                    self.epochs[index] = (int(epoch[1]), int(epoch[2]))
                if log is not None and not log.closed:  # closed: a relay that outlived its attempt's stop
                    log.write(line + "\n")
                    log.flush()
                if console:
                    sys.stdout.write(f"[worker {index}] {line}\n")
                    sys.stdout.flush()
                if epoch and self.number and not self.resumed_said:
                    self.resumed_said = True
                    print(f"zoo.launch: restart {self.number} of {self.of}: training resumed at epoch "
                          f"{epoch[1]}/{epoch[2]}", file=sys.stderr, flush=True)

    def failed(self) -> tuple[int, int] | None:
        """``(worker index, exit status)`` of the first worker that ended with a non-zero status, if one did."""
        for worker, process in zip(self.workers, self.processes):
            if process.poll() not in (None, 0):
                return worker.index, process.returncode
        return None

    def succeeded(self) -> bool:
        return all(process.poll() == 0 for process in self.processes)

    def stop(self) -> None:
        """Terminate every process still running (kill those that ignore it for GRACE_SECONDS); end the relays."""
        _stop(self.processes)
        for thread in self.threads:
            thread.join(GRACE_SECONDS)
        for log in self.files:
            log.close()


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
    workers = [Worker(index, list(argv), env) for index, (argv, env) in enumerate(commands)]
    return launch(lambda: workers, timeout=timeout)


def launch(make_workers: Callable[[], Sequence[Worker]], *, timeout: float | None = None, max_restarts: int = 0,
           backups: Sequence[Path] = ()) -> int:
    """Start ``make_workers()`` and supervise them as :func:`supervise` does; when one dies, up to
    ``max_restarts`` times stop all, align their ``backups`` (one folder per worker, :func:`align_backups`) and
    start a fresh ``make_workers()``. ``backups[i]`` is worker i's backup folder. ``timeout`` bounds all attempts
    together."""
    deadline = None if timeout is None else time.monotonic() + timeout
    lock = threading.Lock()
    for number in range(max_restarts + 1):
        workers = list(make_workers())
        attempt = _Attempt(workers, lock, number=number, of=max_restarts)
        outcome = _run(attempt, deadline)
        if outcome == "done":
            return 0
        if outcome == "timeout":
            print(f"zoo.launch: timed out after {timeout:g} s; stopped all workers", file=sys.stderr)
            return 1
        index, status = outcome
        others = "; stopped the other workers" if len(workers) > 1 else ""
        if max_restarts == 0:
            print(f"zoo.launch: worker {index} {_ending(status)}{others}", file=sys.stderr)
            return 2 if status == UsageError.exit_code else 1
        during = _when(attempt.epochs.get(index), backups[index] if index < len(backups) else None)
        print(f"zoo.launch: worker {index} {_ending(status)}{during}{others}", file=sys.stderr)
        if status == UsageError.exit_code:  # a usage error stays one on a restart
            print("zoo.launch: not restarting after a usage error", file=sys.stderr)
            return 2
        if number == max_restarts:
            print(f"zoo.launch: error: no restarts left ({max_restarts} of {max_restarts} used)", file=sys.stderr)
            return 1
        resume = align_backups(backups)
        total = max((epochs for _, epochs in attempt.epochs.values()), default=None)
        where = (f"resuming from the backup after epoch {resume[0]}{f' of {total}' if total else ''} ({resume[1]})"
                 if resume else "starting over: no worker has a finished epoch backed up")
        print(f"zoo.launch: restarting all {len(workers)} workers (restart {number + 1} of {max_restarts}), {where}",
              file=sys.stderr)
    raise AssertionError("unreachable")


def _when(began: tuple[int, int] | None, backup_dir: Path | None) -> str:
    """When a worker died, as far as the last ``Epoch K/N`` it printed (Keras prints none for a 1-epoch fit) and
    the epoch its own backup holds tell.

    >>> _when((2, 3), None), _when(None, None)
    (' during epoch 2/3', '')
    """
    saved = saved_epoch(backup_dir) if backup_dir is not None else None
    if began is None:
        return f" after its backup of epoch {saved}" if saved is not None else ""
    if saved is not None and saved >= began[0]:
        return f" at the end of epoch {began[0]}/{began[1]}, after its backup of it"
    return f" during epoch {began[0]}/{began[1]}"


def _run(attempt: _Attempt, deadline: float | None) -> str | tuple[int, int]:
    """Start the attempt's workers and wait: "done", "timeout", or ``(index, status)`` of the worker that failed.
    Every worker has ended when it returns."""
    try:
        attempt.start()
        while True:
            failed = attempt.failed()
            if failed:
                attempt.stop()
                return failed
            if attempt.succeeded():
                attempt.stop()
                return "done"
            if deadline is not None and time.monotonic() > deadline:
                attempt.stop()
                return "timeout"
            time.sleep(POLL_SECONDS)
    except BaseException:
        attempt.stop()
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


# ------------------------------------------------------------------------------------------------ CLI
def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m zoo.launch", usage=USAGE, description=__doc__.split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter, raises=True)
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes on this machine (>= 1)")
    parser.add_argument("--cluster", metavar="HOST:PORT,...", help="every worker of a cluster of hosts, chief first")
    parser.add_argument("--index", type=int, metavar="I", help="with --cluster: the worker this host runs")
    parser.add_argument("--max-restarts", type=int, default=0, metavar="N",
                        help="with --workers: restart all workers up to N times when one dies (default 0)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="stop every worker after this long")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, metavar="RECIPE ...", help="zoo.run arguments")
    return parser


def check_launch_args(args: argparse.Namespace) -> list[str] | None:
    """Raise UsageError for a bad combination of the launcher's own options; the ``--cluster`` addresses if given."""
    if args.cluster is not None and args.workers is not None:
        raise UsageError("give --workers N (this machine) or --cluster and --index (one host of a cluster), not both")
    if args.cluster is None:
        if args.workers is None:
            raise UsageError("give --workers N, or --cluster HOST:PORT,... with --index I")
        if args.index is not None:
            raise UsageError("--index goes with --cluster")
        if args.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if args.max_restarts < 0:
        raise UsageError(f"--max-restarts must be 0 or more, got {args.max_restarts}")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
    if args.cluster is None:
        return None
    addresses = parse_cluster(args.cluster)
    if args.index is None:
        raise UsageError("--cluster needs --index I: which of its workers this host runs (0 is the chief)")
    if not 0 <= args.index < len(addresses):
        raise UsageError(f"--index {args.index} is out of range: --cluster lists {len(addresses)} workers, "
                         f"0 to {len(addresses) - 1}")
    if args.max_restarts:
        raise UsageError("--max-restarts goes with --workers: with --cluster each host runs one worker, and a "
                         "restart must restart every host's (let the orchestrator do it; see docs/distributed.md)")
    return addresses


def check_run_args(run_args: Sequence[str]) -> Path:
    """Raise UsageError for arguments ``zoo.run`` would reject (unknown recipe, bad ``--set``), without training;
    return the run directory the chief will use (``--run-dir``, else ``runs/RECIPE/CONFIG_HASH``)."""
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
    cls, config = resolve_config(args)
    return cls(config, run_dir=args.run_dir, verbose=0).run_dir


def _workers(addresses: Sequence[str] | None, count: int, index: int | None, run_args: Sequence[str],
             run_dir: Path) -> Callable[[], list[Worker]]:
    """What to start on each attempt: every local worker (new free ports each time), or this host's one."""
    def log(i: int) -> Path | None:
        return None if i == 0 else worker_run_dir(run_dir, i) / OUTPUT_LOG

    if addresses is not None:
        argv, env = cluster_command(addresses, index, run_args)
        return lambda: [Worker(index, argv, env, log(index))]
    return lambda: [Worker(i, argv, env, log(i)) for i, (argv, env) in enumerate(worker_commands(count, run_args))]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        addresses = check_launch_args(args)
        run_dir = check_run_args(args.run_args)
    except UsageError as exc:
        print(f"zoo.launch: error: {exc}", file=sys.stderr)
        return 2
    indices = range(args.workers) if addresses is None else [args.index]
    for i in indices:
        if i:
            print(f"zoo.launch: worker {i} writes its full output to {worker_run_dir(run_dir, i) / OUTPUT_LOG}; "
                  "only its warnings and errors are shown here", flush=True)
    backups = [worker_run_dir(run_dir, i) / "backup" for i in indices]
    try:
        return launch(_workers(addresses, args.workers, args.index, args.run_args, run_dir), timeout=args.timeout,
                      max_restarts=args.max_restarts, backups=backups)
    except KeyboardInterrupt:
        print("zoo.launch: interrupted; stopped all workers", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
