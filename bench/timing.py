"""The house's speed protocol: engines timed in processes of their own, in alternating rounds, medians and spread.

A speed comparison of two engines (TensorFlow against PyTorch, say) runs each engine in a worker process of its own,
so that neither library's thread pools, allocator or start-up share a process with the other's timing. Each worker
loads its model once and then answers calls, one JSON line in and one out, until its stdin closes; the seconds of a
call are measured inside the worker, around the work alone. The parent warms every worker up (calls not counted),
then times rounds alternating between the engines (A, B, A, B, ...), so that anything else on the machine weighs on
both alike; it reports each engine's median with its min and max. The machine's float32 matmul speed, measured in
a process of its own, and each worker's thread settings are recorded beside the results.

Parent side::

    with Worker(engine_command("bench.generate", "pytorch", path)) as pytorch, Worker([...]) as export:
        timed = alternating_rounds({"pytorch": pytorch, "export": export}, "generate", request, rounds=5)
        figures = {name: spread(t.seconds) for name, t in timed.items()}
        threads = pytorch.call("process").value

Worker side (the module run by the worker's command)::

    serve(lambda: {"generate": load_model(path).generate})   # handlers built after stdout is claimed
    serve_engine({"pytorch": pytorch_handlers, ...}, sys.argv[1:])   # the same, for engine_command's workers

The built-in call ``process`` answers with :func:`process_description` (thread settings, libraries loaded).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Mapping, NamedTuple, Sequence

MATMUL_SIZE = 2048  # float32 [n, n] @ [n, n]: 17 GFLOP a product, a fraction of a second on a laptop core
MATMUL_REPEATS = 5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")
LIBRARIES = ("tensorflow", "torch")


class WorkerError(RuntimeError):
    """A worker died or its handler raised; the message carries the worker's last stderr lines."""


class Reply(NamedTuple):
    value: Any  # what the handler returned
    seconds: float  # the handler's wall time, measured inside the worker


class Timed(NamedTuple):
    seconds: list[float]  # one per timed round, in order
    last: Any  # the value of the last round


class Worker:
    """A worker process started from ``argv`` (its module calls :func:`serve`); :meth:`call` one of its handlers.

    Its stderr goes to a scratch file, quoted when it fails. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True, bufsize=1)

    def call(self, handler: str, **arguments: Any) -> Reply:
        """Run ``handler(**arguments)`` in the worker (waiting for it to load, the first time)."""
        try:
            self.process.stdin.write(json.dumps({"call": handler, "arguments": arguments}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(self.failure("died")) from None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError(self.failure(f"exited with status {self.process.wait()}"))
        reply = json.loads(line)
        if "error" in reply:
            raise WorkerError(self.failure(f"{handler}: {reply['error']}"))
        return Reply(reply["value"], reply["seconds"])

    def failure(self, what: str, lines: int = 20) -> str:
        self.stderr.seek(0)
        tail = "".join(self.stderr.readlines()[-lines:])
        return f"worker {' '.join(self.argv)}: {what}\n{tail}"

    def close(self, timeout: float = 60) -> None:
        """Close its stdin (the worker then ends) and wait for it; killed after ``timeout`` seconds."""
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.stderr.close()

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def serve(load: Callable[[], Mapping[str, Callable[..., Any]]]) -> None:
    """Worker side: answer calls on stdin until it closes, one JSON line each way.

    Stdout becomes the protocol's alone: file descriptor 1 is pointed at stderr before ``load`` runs, so whatever
    the libraries print cannot break a reply. ``load()`` builds the handlers (loading the model); a call
    ``{"call": NAME, "arguments": {...}}`` is answered ``{"value": ..., "seconds": ...}`` or ``{"error": ...}``.
    """
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    handlers = {"process": process_description, **load()}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            handler = handlers[request["call"]]
            started = time.perf_counter()
            value = handler(**request["arguments"])
            reply = {"value": value, "seconds": time.perf_counter() - started}
        except Exception as exc:  # the parent raises it, with this worker's stderr
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")


def engine_command(module: str, engine: str, path: str | os.PathLike) -> list[str]:
    """The command of a worker serving one of ``module``'s engines on ``path`` (a checkpoint, an export):
    ``python -m MODULE ENGINE PATH``, the module's ``main`` calling :func:`serve_engine`."""
    return [sys.executable, "-m", module, engine, str(path)]


def serve_engine(engines: Mapping[str, Callable[[str], Mapping[str, Callable[..., Any]]]],
                 argv: Sequence[str]) -> None:
    """Worker side of :func:`engine_command`: ``argv`` is ENGINE PATH; :func:`serve` ``engines[ENGINE](PATH)``'s
    handlers."""
    engine, path = argv
    serve(lambda: engines[engine](path))


def process_description() -> dict[str, Any]:
    """This process: which of TensorFlow and torch it has loaded, their thread settings, the cores and the
    thread-count environment variables set. TensorFlow's 0 means "its default": as many threads as cores."""
    description: dict[str, Any] = {
        "pid": os.getpid(), "cpu_count": os.cpu_count(),
        "libraries_loaded": [name for name in LIBRARIES if name in sys.modules],
        "environment": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        description["torch"] = {"num_threads": torch.get_num_threads(),
                                "num_interop_threads": torch.get_num_interop_threads()}
    if "tensorflow" in sys.modules:
        threading = sys.modules["tensorflow"].config.threading
        description["tensorflow"] = {"intra_op_parallelism_threads": threading.get_intra_op_parallelism_threads(),
                                     "inter_op_parallelism_threads": threading.get_inter_op_parallelism_threads()}
    return description


def alternating_rounds(workers: Mapping[str, Worker], handler: str, arguments: Mapping[str, Any], rounds: int,
                       warm_up: int = 1) -> dict[str, Timed]:
    """The same call on every worker: ``warm_up`` calls each (not counted), then ``rounds`` rounds, each round one
    call of every worker in turn."""
    for worker in workers.values():
        for _ in range(warm_up):
            worker.call(handler, **arguments)
    replies: dict[str, list[Reply]] = {name: [] for name in workers}
    for _ in range(rounds):
        for name, worker in workers.items():
            replies[name].append(worker.call(handler, **arguments))
    return {name: Timed([r.seconds for r in done], done[-1].value) for name, done in replies.items()}


def spread(seconds: Sequence[float]) -> dict[str, Any]:
    """The median seconds, the min and max, and every round's (in order), to 0.1 ms."""
    rounded = [round(s, 4) for s in seconds]
    return {"median": statistics.median(rounded), "min": min(rounded), "max": max(rounded), "rounds": rounded}


def matmul_gflops(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> dict[str, Any]:
    """The machine's float32 matmul speed: numpy's ``[size, size] @ [size, size]`` timed ``repeats`` times (after one
    warm-up) in a process of its own; GFLOPS (2·size³ per product) median, min and max, and numpy's BLAS threads."""
    command = f"from bench.timing import print_matmul_seconds; print_matmul_seconds({size}, {repeats})"
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    gflops = sorted(2 * size ** 3 / s / 1e9 for s in measured["seconds"])
    return {"library": "numpy", "dtype": "float32", "size": size, "repeats": repeats,
            "gflops": round(statistics.median(gflops), 1), "gflops_min": round(gflops[0], 1),
            "gflops_max": round(gflops[-1], 1), "blas_threads": measured["blas_threads"]}


def print_matmul_seconds(size: int, repeats: int) -> None:
    """The matmul child of :func:`matmul_gflops`: one JSON line of the seconds of each product and BLAS threads."""
    import numpy as np
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    print(json.dumps({"seconds": seconds, "blas_threads": blas}))
