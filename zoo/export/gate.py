"""The validation gate every export passes before it is published.

1. The SavedModel loads through the TF1 session loader with the ``serve`` tag, as TF Serving loads it, and
   every signature runs on its warmup requests (replayed from the warmup file, as TF Serving replays them).
2. Each output equals the in-memory model's output on the same inputs, within the servable's
   :class:`~zoo.export.signatures.GateTolerance` (floats within ``close``; at least ``agreement`` of a discrete
   output's values equal), and every float output is finite: a model that answers NaN or infinity (trained with a
   diverging learning rate, say) is not published.
3. Every op in the graph, function library included, is a core TensorFlow op or a tensorflow-text op
   (the ops the stock ``tensorflow_model_server`` links); no ``PyFunc``/``EagerPyFunc``.
4. The warmup file is well formed: at most 1000 parseable ``PredictionLog`` records of a type TF Serving
   replays, each naming a signature that exists, and every signature has at least one.

Example:

>>> report = run_gate(path, reference_functions)   # doctest: +SKIP
>>> report.signatures_run                          # doctest: +SKIP
{'serving_default': 1, 'classify': 1}
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import os
from pathlib import Path
from typing import Callable, Mapping, NamedTuple

import numpy as np
import tensorflow as tf

from zoo.errors import ExportError
from zoo.export.session import SessionModel
from zoo.export.signatures import CLASSIFY, REGRESS, GateTolerance
from zoo.export.warmup import LOG_TYPES, MAX_RECORDS, WARMUP_FILE, read_warmup, request_feeds

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_METHOD_OF_LOG = {"predict_log": None, "classify_log": CLASSIFY, "regress_log": REGRESS}
_References = Mapping[str, Callable[..., Mapping[str, tf.Tensor]]]  # signature name -> in-memory function


@dataclasses.dataclass
class GateReport:
    """What the gate checked: records replayed per signature, ops seen, largest float difference, and the least
    share of a discrete output's values equal to the in-memory ones."""

    signatures_run: dict[str, int]
    ops: list[str]
    max_abs_diff: float
    least_agreement: float = 1.0


@functools.lru_cache(maxsize=1)
def tensorflow_text_ops() -> frozenset[str]:
    """Op names registered by tensorflow-text's op libraries (the ones linked into the stock model server)."""
    import tensorflow_text
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session  # what tf.load_op_library uses to list a library's ops

    names: set[str] = set()
    package_dir = os.path.dirname(tensorflow_text.__file__)
    for library in glob.glob(os.path.join(package_dir, "**", "*.so"), recursive=True):
        handle = pywrap_tf_session.TF_LoadLibrary(library)
        try:
            op_list = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetOpList(handle))
        finally:
            pywrap_tf_session.TF_DeleteLibraryHandle(handle)
        names.update(op.name for op in op_list.op)
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def allowed_ops() -> frozenset[str]:
    """Core TensorFlow ops (``tf.raw_ops``) and tensorflow-text ops, minus the ones that call Python."""
    return (frozenset(dir(tf.raw_ops)) | tensorflow_text_ops()) - PYTHON_OPS


def graph_ops(meta_graph) -> set[str]:
    """Every op type in a MetaGraphDef, including those inside library functions."""
    ops = {node.op for node in meta_graph.graph_def.node}
    for function in meta_graph.graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return ops


def check_ops(ops: set[str]) -> list[str]:
    """Problems with the op set (empty when every op is servable)."""
    problems = []
    python_ops = sorted(ops & PYTHON_OPS)
    if python_ops:
        problems.append(
            f"the graph calls back into Python ({', '.join(python_ops)}, e.g. from tf.py_function or "
            "tf.numpy_function); TF Serving cannot run it: write that step with TensorFlow ops"
        )
    unknown = sorted(ops - allowed_ops() - PYTHON_OPS)
    if unknown:
        problems.append(
            f"ops not in core TensorFlow or tensorflow-text, which the stock model server lacks: {', '.join(unknown)}"
        )
    return problems


class _Compared(NamedTuple):
    problem: str | None
    diff: float = 0.0  # largest absolute difference of a float output
    agreement: float = 1.0  # share of a discrete output's values equal to the in-memory ones


def _compare(name: str, output: str, served: np.ndarray, expected: np.ndarray, tolerance: GateTolerance) -> _Compared:
    served, expected = np.asarray(served), np.asarray(expected)
    if served.shape != expected.shape:
        return _Compared(f"{name}/{output}: shape {served.shape} served vs {expected.shape} in memory")
    if served.dtype.kind in "fc":
        finite = np.isfinite(served)
        if not finite.all():
            return _Compared(f"{name}/{output}: {finite.size - np.count_nonzero(finite)} of {finite.size} values are "
                             "NaN or infinite on the warmup requests")
        diff = float(np.max(np.abs(served - expected))) if served.size else 0.0
        if not np.allclose(served, expected, atol=tolerance.close, rtol=tolerance.close):
            return _Compared(f"{name}/{output}: max abs difference {diff:.3g} between served and in-memory outputs",
                             diff)
        return _Compared(None, diff)
    agreement = float(np.mean(served == expected)) if served.size else 1.0
    if agreement < tolerance.agreement:
        bound = "" if tolerance.agreement == 1.0 else f" (bound {tolerance.agreement:.0%})"
        return _Compared(f"{name}/{output}: served values differ from in-memory values: {agreement:.1%} equal{bound}",
                         agreement=agreement)
    return _Compared(None, agreement=agreement)


class _WarmupRequest(NamedTuple):
    """One replayable warmup record: its index in the file, log type, signature, feeds and in-memory outputs."""

    index: int
    kind: str
    name: str
    feeds: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


def _warmup_logs(warmup_path: Path) -> tuple[list, list[str]]:
    """The warmup file's records, and the problems with the file: missing, malformed, or too many records."""
    if not warmup_path.is_file():
        return [], [f"missing warmup file {warmup_path}"]
    try:
        logs = list(read_warmup(warmup_path))
    except Exception as exc:  # a malformed TFRecord or proto: report, do not crash
        return [], [f"warmup file is malformed: {type(exc).__name__}: {exc}"]
    if len(logs) > MAX_RECORDS:
        return logs, [f"warmup file has {len(logs)} records; TF Serving reads at most {MAX_RECORDS}"]
    return logs, []


def _warmup_request(index: int, log, reference: _References) -> tuple[_WarmupRequest | None, str | None]:
    """Record ``index`` as a request with the in-memory function's outputs on its feeds, or why it cannot be one."""
    kind = log.WhichOneof("log_type")
    if kind not in LOG_TYPES:
        return None, f"warmup record {index} has type {kind!r}, which TF Serving does not replay"
    try:
        name, feeds = request_feeds(log)
    except ValueError as exc:
        return None, f"warmup record {index}: {exc}"
    if name not in reference:
        return None, f"warmup record {index}: no in-memory function {name!r} to compare against"
    expected = {k: np.asarray(v) for k, v in reference[name](**feeds).items()}
    return _WarmupRequest(index, kind, name, feeds, expected), None


def _warmup_requests(logs: list, reference: _References) -> tuple[list[_WarmupRequest], list[str]]:
    """The records that can be replayed and compared, and a problem for each one that cannot."""
    requests, problems = [], []
    for index, log in enumerate(logs):
        request, problem = _warmup_request(index, log, reference)
        if problem:
            problems.append(problem)
        else:
            requests.append(request)
    return requests, problems


def _load_as_served(saved_model_dir: Path) -> SessionModel:
    """The SavedModel loaded through the TF1 session loader, as TF Serving loads it; ExportError if it cannot be."""
    try:
        return SessionModel(saved_model_dir)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"validation gate: the session loader (TF Serving's path) cannot load it: {first_line}") from None


def _serve(loaded: SessionModel, request: _WarmupRequest) -> tuple[dict[str, np.ndarray] | None, list[str]]:
    """The served outputs of one request (None when it could not run), and the problems on the way."""
    index, kind, name, feeds, _ = request
    if name not in loaded.signature_defs:
        return None, [f"warmup record {index} names signature {name!r}, which the model lacks"]
    signature = loaded.signature_defs[name]
    problems = []
    wanted_method = _METHOD_OF_LOG.get(kind)
    if wanted_method and signature.method_name != wanted_method:
        problems.append(f"{name}: a {kind} needs method {wanted_method}, the signature has {signature.method_name}")
    missing = set(signature.inputs) - set(feeds)
    if missing:
        return None, problems + [f"warmup record {index} for {name!r} lacks inputs {sorted(missing)}"]
    try:
        return loaded.run(name, feeds), problems
    except Exception as exc:
        return None, problems + [f"{name}: running the warmup request failed: {type(exc).__name__}: {exc}"]


class _Replayed(NamedTuple):
    runs: dict[str, int]  # requests run per signature
    max_diff: float
    least_agreement: float
    problems: list[str]


def _replay(loaded: SessionModel, requests: list[_WarmupRequest], tolerance: GateTolerance) -> _Replayed:
    """Run every request on the loaded model and compare each served output with the in-memory one."""
    replayed = _Replayed({}, 0.0, 1.0, [])
    for request in requests:
        served, serve_problems = _serve(loaded, request)
        replayed.problems.extend(serve_problems)
        if served is None:
            continue
        replayed.runs[request.name] = replayed.runs.get(request.name, 0) + 1
        for output, value in served.items():
            if output not in request.expected:
                replayed.problems.append(f"{request.name}/{output}: the in-memory function has no such output")
                continue
            compared = _compare(request.name, output, value, request.expected[output], tolerance)
            replayed = replayed._replace(max_diff=max(replayed.max_diff, compared.diff),
                                         least_agreement=min(replayed.least_agreement, compared.agreement))
            if compared.problem:
                replayed.problems.append(compared.problem)
    return replayed


def _unwarmed_signatures(signatures: Mapping, runs: Mapping[str, int]) -> list[str]:
    """A problem for each signature that no warmup request ran."""
    return [f"signature {name!r} has no warmup request, so it was never run"
            for name in sorted(set(signatures) - set(runs) - {"__saved_model_init_op"})]


def run_gate(
    saved_model_dir: Path,
    reference: Mapping[str, Callable[..., Mapping[str, tf.Tensor]]],
    tolerance: GateTolerance = GateTolerance(),
) -> GateReport:
    """Run the four checks on ``saved_model_dir``; raise ExportError listing every failure.

    ``reference`` maps each signature name to the in-memory function (taking the inputs as keyword
    arguments) whose outputs the served ones must equal, within ``tolerance``.
    """
    saved_model_dir = Path(saved_model_dir)
    logs, problems = _warmup_logs(saved_model_dir / "assets.extra" / WARMUP_FILE)
    requests, request_problems = _warmup_requests(logs, reference)
    problems.extend(request_problems)
    with _load_as_served(saved_model_dir) as loaded:
        ops = graph_ops(loaded.meta_graph)
        problems.extend(check_ops(ops))
        replayed = _replay(loaded, requests, tolerance)
        problems.extend(replayed.problems)
        problems.extend(_unwarmed_signatures(loaded.signature_defs, replayed.runs))
    if problems:
        raise ExportError("export failed the validation gate: " + "; ".join(p.replace("\n", " ") for p in problems))
    return GateReport(signatures_run=replayed.runs, ops=sorted(ops), max_abs_diff=replayed.max_diff,
                      least_agreement=replayed.least_agreement)
