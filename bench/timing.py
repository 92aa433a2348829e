"""The house's speed protocol: engines timed in processes of their own, in alternating rounds, medians and spread,
beside what the machine can do.

A speed comparison of two engines (TensorFlow against PyTorch, say) runs each engine in a worker process of its own,
so that neither library's thread pools, allocator or start-up share a process with the other's timing. Each worker
loads its model once and then answers calls, one JSON line in and one out, until its stdin closes; the seconds of a
call are measured inside the worker, around the work alone. The parent warms every worker up (calls not counted),
then times rounds alternating between the engines (A, B, A, B, ...), so that anything else on the machine weighs on
both alike; it reports each engine's median with its min and max.

Recorded beside the results: each worker's process (:func:`process_description`: libraries loaded and their
versions, thread settings), the CPU's model and instruction-set flags (:func:`cpu_description`), and the machine's
matmul GFLOPS in float32 and in bfloat16 (:func:`matmul_speeds`, each measured in a process of its own before any
worker starts). Where a bench counts the FLOPs of its work from the model's shapes (:func:`matmul_flops`,
:func:`attention_flops`, :func:`encoder_layer_flops`), :func:`achieved` puts each engine's achieved GFLOPS beside
the machine's. An engine that fails is reported in one line that names it (:class:`WorkerError`).

Parent side::

    with engine_worker("bench.generate", "pytorch", path) as pytorch, engine_worker(...) as export:
        workers = {"pytorch": pytorch, "export": export}
        timed = alternating_rounds(workers, "generate", request, rounds=5)
        figures = {name: spread(t.seconds) for name, t in timed.items()}
        described = processes(workers)

Worker side (the module run by the worker's command)::

    serve(lambda: {"generate": load_model(path).generate})   # handlers built after stdout is claimed
    serve_engine({"pytorch": pytorch_handlers, ...}, sys.argv[1:])   # the same, for engine_command's workers
    engine_main(WORKERS, sys.argv[1:], convert)   # and `python -m MODULE prepare ...` runs convert (prepare())

The built-in call ``process`` answers with :func:`process_description`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

MATMUL_SIZE = 2048  # [n, n] @ [n, n]: 17 GFLOP a product, a fraction of a second on a laptop core
MATMUL_REPEATS = 5
MATMUL_DTYPES = ("float32", "bfloat16")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
LIBRARIES = ("tensorflow", "torch", "onnxruntime", "ctranslate2")  # the engines': a worker should load one only
VERSIONED = ("numpy", "tensorflow", "keras", "keras_hub", "tensorflow_text", "torch", "transformers", "tokenizers",
             "onnxruntime", "ctranslate2")
# The x86 flags that decide which float32, bfloat16 and int8 kernels a library can pick (any other amx_* is added).
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni", "amx_tile",
             "amx_bf16", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


class WorkerError(RuntimeError):
    """An engine's worker failed: the message is one line naming the engine, the call and the error; ``stderr``
    holds the worker's last stderr lines (its traceback, if it printed one)."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class Reply(NamedTuple):
    value: Any  # what the handler returned
    seconds: float  # the handler's wall time, measured inside the worker


class Timed(NamedTuple):
    seconds: list[float]  # one per timed round, in order
    last: Any  # the value of the last round


class Worker:
    """The worker process of engine ``name``, started from ``argv`` (its module calls :func:`serve`); :meth:`call`
    one of its handlers.

    Its stderr goes to a scratch file, whose last lines a :class:`WorkerError` carries. Use it as a context manager
    (leaving it on an exception kills the worker at once), or call :meth:`close`.

    >>> argv = [sys.executable, "-c", "from bench.timing import serve; serve(lambda: {'twice': lambda x: 2 * x})"]
    >>> with Worker(argv, "toy") as toy:
    ...     toy.call("twice", x=21).value, toy.call("process").value["libraries_loaded"]
    (42, [])
    """

    def __init__(self, argv: Sequence[str], name: str) -> None:
        self.argv = list(argv)
        self.name = name
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        text=True, bufsize=1)

    def call(self, handler: str, **arguments: Any) -> Reply:
        """Run ``handler(**arguments)`` in the worker (waiting for it to load, the first time)."""
        try:
            self.process.stdin.write(json.dumps({"call": handler, "arguments": arguments}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self.exited(handler) from None
        line = self.process.stdout.readline()
        if not line:
            raise self.exited(handler)
        reply = json.loads(line)
        if "error" in reply:
            raise self.failure(f"{handler}: {reply['error']}")
        return Reply(reply["value"], reply["seconds"])

    def stderr_lines(self, lines: int = 20) -> list[str]:
        """The last ``lines`` lines the worker wrote to stderr."""
        self.stderr.seek(0)
        return self.stderr.readlines()[-lines:]

    def failure(self, what: str) -> WorkerError:
        """``what`` failed, as one line naming the engine (the first line of ``what``), stderr's tail attached."""
        first = next((line.strip() for line in what.splitlines() if line.strip()), "failed")
        return WorkerError(f"engine {self.name}: {first}", "".join(self.stderr_lines()))

    def exited(self, handler: str) -> WorkerError:
        """The worker ended before answering ``handler``: its exit status and its last stderr line (the error a
        Python traceback ends with)."""
        status = self.process.wait()
        last = next((line.strip() for line in reversed(self.stderr_lines()) if line.strip()), "")
        return self.failure(f"{handler}: the worker exited with status {status}" + (f": {last}" if last else ""))

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

    def __exit__(self, exc_type, *exc_info) -> None:
        self.close(timeout=0 if exc_type else 60)  # a run already failing waits for no engine to finish loading


def serve(load: Callable[[], Mapping[str, Callable[..., Any]]]) -> None:
    """Worker side: answer calls on stdin until it closes, one JSON line each way.

    Stdout becomes the protocol's alone: file descriptor 1 is pointed at stderr before ``load`` runs, so whatever
    the libraries print cannot break a reply. ``load()`` builds the handlers (loading the model); a call
    ``{"call": NAME, "arguments": {...}}`` is answered ``{"value": ..., "seconds": ...}`` or ``{"error": ...}``
    (the exception's type and text; its traceback goes to stderr).
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
        except Exception as exc:  # the parent raises it, naming this engine
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")


def engine_command(module: str, engine: str, path: str | os.PathLike, *arguments: str) -> list[str]:
    """The command of a worker serving one of ``module``'s engines on ``path`` (a checkpoint, an export):
    ``python -m MODULE ENGINE PATH [ARGUMENT ...]``, the module's ``main`` calling :func:`serve_engine`."""
    return [sys.executable, "-m", module, engine, str(path), *arguments]


def engine_worker(module: str, engine: str, path: str | os.PathLike, *arguments: str) -> Worker:
    """The :class:`Worker` of :func:`engine_command`, named ``engine``."""
    return Worker(engine_command(module, engine, path, *arguments), engine)


PREPARE = "prepare"  # the command word of a bench module's preparing step (:func:`prepare`, :func:`engine_main`)


def prepare(module: str, engine: str, *arguments: str, seconds: float = 1800) -> None:
    """``python -m MODULE prepare ARGUMENT ...`` in a process of its own: what an engine needs before any timing (a
    model converted to its format; :func:`engine_main`), its libraries kept out of the parent. A failure is a
    :class:`WorkerError` naming ``engine`` and the error's last line."""
    done = subprocess.run([sys.executable, "-m", module, PREPARE, *arguments], capture_output=True, text=True,
                          timeout=seconds, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise WorkerError(f"engine {engine}: preparing its model failed: {last}", done.stderr)


def engine_main(engines: Mapping[str, Callable[..., Mapping[str, Callable[..., Any]]]], argv: Sequence[str],
                preparing: Callable[..., None] | None = None) -> int:
    """A bench module's command line: ``prepare ARGUMENT ...`` runs ``preparing(ARGUMENT, ...)`` (see
    :func:`prepare`); anything else is a worker's ``ENGINE PATH [ARGUMENT ...]`` (:func:`serve_engine`)."""
    if preparing is not None and list(argv[:1]) == [PREPARE]:
        preparing(*argv[1:])
    else:
        serve_engine(engines, argv)
    return 0


def serve_engine(engines: Mapping[str, Callable[..., Mapping[str, Callable[..., Any]]]], argv: Sequence[str]) -> None:
    """Worker side of :func:`engine_command`: ``argv`` is ENGINE PATH [ARGUMENT ...]; :func:`serve`
    ``engines[ENGINE](PATH, ARGUMENT, ...)``'s handlers."""
    engine, path, *arguments = argv
    serve(lambda: engines[engine](path, *arguments))


def process_description() -> dict[str, Any]:
    """This process: which of the engines' libraries (:data:`LIBRARIES`) it has loaded, the versions of the libraries it has loaded, their
    thread settings and thread pools, the cores and the thread-count environment variables set. TensorFlow's 0 means
    "its default": as many threads as cores."""
    from threadpoolctl import threadpool_info

    description: dict[str, Any] = {
        "pid": os.getpid(), "cpu_count": os.cpu_count(),
        "libraries_loaded": [name for name in LIBRARIES if name in sys.modules],
        "versions": {name: getattr(sys.modules[name], "__version__", None) for name in VERSIONED
                     if name in sys.modules},
        "environment": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
        "thread_pools": [{key: pool[key] for key in ("user_api", "internal_api", "num_threads", "version")}
                         for pool in threadpool_info()],
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


def processes(workers: Mapping[str, Worker]) -> dict[str, dict[str, Any]]:
    """Each worker's :func:`process_description`."""
    return {name: worker.call("process").value for name, worker in workers.items()}


def load_average() -> list[float]:
    """Other work on the cores (1, 5, 15 minutes), to record as rounds end: it weighs on the timings."""
    return [round(x, 2) for x in os.getloadavg()]


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
    """The median seconds, the min and max, and every round's (in order), to 0.1 ms.

    >>> spread([0.51234, 0.4, 0.6])
    {'median': 0.5123, 'min': 0.4, 'max': 0.6, 'rounds': [0.5123, 0.4, 0.6]}
    """
    rounded = [round(s, 4) for s in seconds]
    return {"median": statistics.median(rounded), "min": min(rounded), "max": max(rounded), "rounds": rounded}


def speedup(seconds: Mapping[str, Mapping[str, Any]], engine: str, baseline: str) -> float:
    """How many times faster ``engine`` ran than ``baseline``: the baseline's median seconds over the engine's
    (:func:`spread` of each).

    >>> speedup({"export": {"median": 2.0}, "pytorch": {"median": 5.0}}, "export", "pytorch")
    2.5
    """
    return seconds[baseline]["median"] / seconds[engine]["median"]


# ------------------------------------------------------------------------------ the machine
def cpu_description(cpuinfo: Path = CPUINFO) -> dict[str, Any]:
    """The CPU's model name, and which of :data:`CPU_FLAGS` (and any other ``amx_*``) it has, from ``cpuinfo``
    (Linux's ``/proc/cpuinfo``). Without that file, or a field in it, the model is ``platform.processor()`` (or
    "unknown") and the flags None: not known, rather than absent."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text)


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """:func:`cpu_description` of a ``/proc/cpuinfo`` text (its first processor's fields).

    >>> cpu = parse_cpuinfo("processor\\t: 0\\nmodel name\\t: Some CPU\\nflags\\t\\t: fpu avx2 fma amx_fp16\\n")
    >>> cpu["model"], [flag for flag, present in cpu["flags"].items() if present]
    ('Some CPU', ['avx2', 'fma', 'amx_fp16'])
    >>> parse_cpuinfo("")["flags"] is None
    True
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    listed = fields.get("flags", fields.get("Features"))  # x86, Arm
    flags = None
    if listed is not None:
        present = set(listed.split())
        flags = {flag: flag in present for flag in CPU_FLAGS}
        flags.update({flag: True for flag in sorted(present) if flag.startswith("amx") and flag not in flags})
    return {"model": fields.get("model name") or platform.processor() or "unknown", "flags": flags}


def matmul_speeds(size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> dict[str, dict[str, Any]]:
    """The machine's matmul speed in each of :data:`MATMUL_DTYPES` (:func:`matmul_gflops`, a process each)."""
    return {dtype: matmul_gflops(dtype, size, repeats) for dtype in MATMUL_DTYPES}


def matmul_gflops(dtype: str = "float32", size: int = MATMUL_SIZE, repeats: int = MATMUL_REPEATS) -> dict[str, Any]:
    """TensorFlow's ``[size, size] @ [size, size]`` in ``dtype``, timed ``repeats`` times (after one warm-up) in a
    process of its own: GFLOPS (2·size³ per product) median, min and max, and that process's description (threads,
    versions). TensorFlow for every dtype, so that float32 and bfloat16 compare like with like (numpy has no
    bfloat16 matmul); which kernels it picks depends on the CPU flags (:func:`cpu_description`)."""
    command = f"from bench.timing import print_matmul_seconds; print_matmul_seconds({dtype!r}, {size}, {repeats})"
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(f"matmul {dtype}: exited with status {done.returncode}: {last}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    gflops = sorted(2 * size ** 3 / s / 1e9 for s in measured["seconds"])
    return {"library": "tensorflow", "dtype": dtype, "size": size, "repeats": repeats,
            "gflops": round(statistics.median(gflops), 1), "gflops_min": round(gflops[0], 1),
            "gflops_max": round(gflops[-1], 1), "process": measured["process"]}


def print_matmul_seconds(dtype: str, size: int, repeats: int) -> None:
    """The child of :func:`matmul_gflops`: one JSON line of the seconds of each product and the process."""
    import tensorflow as tf

    a, b = (tf.cast(tf.random.stateless_normal([size, size], seed=[0, i]), dtype) for i in range(2))
    tf.linalg.matmul(a, b)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, b)  # eager execution on the CPU is synchronous: the product is done on return
        seconds.append(time.perf_counter() - started)
    print(json.dumps({"seconds": seconds, "process": process_description()}))


# ------------------------------------------------------------------------------ the work, counted
def matmul_flops(weights: int, tokens: int) -> int:
    """A dense layer's ``weights`` applied to ``tokens`` vectors: a multiply and an add per weight and token.

    >>> matmul_flops(weights=384 * 384, tokens=10)
    2949120
    """
    return 2 * weights * tokens


def attention_flops(queries: int, keys: int, width: int) -> int:
    """Dot-product attention of ``queries`` over ``keys``, ``width`` wide over all heads: the scores (q·k) and the
    weighted sum of the values, 2·queries·keys·width each (softmax and masks not counted).

    >>> attention_flops(queries=1, keys=10, width=64)
    2560
    """
    return 4 * queries * keys * width


def encoder_layer_flops(tokens: int, width: int, attention_width: int, feed_forward_weights: int) -> int:
    """One self-attention layer over a sequence of ``tokens``: the query, key, value and output projections (each
    ``width`` × ``attention_width``), the attention itself, and the feed-forward block's ``feed_forward_weights``
    (layer norms, biases and activations not counted).

    >>> encoder_layer_flops(tokens=10, width=4, attention_width=4, feed_forward_weights=2 * 4 * 16)
    5440
    """
    return (matmul_flops(4 * width * attention_width + feed_forward_weights, tokens)
            + attention_flops(tokens, tokens, attention_width))


def achieved(flops: Mapping[str, int], seconds: Mapping[str, Mapping[str, Any]],
             matmul: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each engine's FLOPs of work and its achieved GFLOPS (over its median seconds, :func:`spread`), beside the
    machine's matmul GFLOPS in each dtype (:func:`matmul_speeds`).

    >>> achieved({"a": 4_000_000_000}, {"a": {"median": 2.0}}, {"float32": {"gflops": 150.0}})
    {'flops': {'a': 4000000000}, 'achieved_gflops': {'a': 2.0}, 'machine_matmul_gflops': {'float32': 150.0}}
    """
    return {"flops": {name: int(count) for name, count in flops.items()},
            "achieved_gflops": {name: round(flops[name] / seconds[name]["median"] / 1e9, 2) for name in flops},
            "machine_matmul_gflops": {dtype: figures["gflops"] for dtype, figures in matmul.items()}}
