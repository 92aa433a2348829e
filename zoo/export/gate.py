"""The validation gate every export passes before it is published.

1. The SavedModel loads through the TF1 session loader with the ``serve`` tag, as TF Serving loads it, and
   every signature runs on its warmup requests (replayed from the warmup file, as TF Serving replays them).
2. Each output equals the in-memory model's output on the same inputs, and every float output is finite:
   a model that answers NaN or infinity (trained with a diverging learning rate, say) is not published.
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
from typing import Callable, Mapping

import numpy as np
import tensorflow as tf

from zoo.errors import ExportError
from zoo.export.session import SessionModel
from zoo.export.signatures import CLASSIFY, REGRESS
from zoo.export.warmup import LOG_TYPES, MAX_RECORDS, WARMUP_FILE, read_warmup, request_feeds

PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_METHOD_OF_LOG = {"predict_log": None, "classify_log": CLASSIFY, "regress_log": REGRESS}


@dataclasses.dataclass
class GateReport:
    """What the gate checked: records replayed per signature, ops seen, largest float difference."""

    signatures_run: dict[str, int]
    ops: list[str]
    max_abs_diff: float


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


def _compare(name: str, output: str, served: np.ndarray, expected: np.ndarray, atol: float) -> tuple[str | None, float]:
    served, expected = np.asarray(served), np.asarray(expected)
    if served.shape != expected.shape:
        return f"{name}/{output}: shape {served.shape} served vs {expected.shape} in memory", 0.0
    if served.dtype.kind in "fc":
        finite = np.isfinite(served)
        if not finite.all():
            return (f"{name}/{output}: {finite.size - np.count_nonzero(finite)} of {finite.size} values are NaN or "
                    "infinite on the warmup requests"), 0.0
        diff = float(np.max(np.abs(served - expected))) if served.size else 0.0
        if not np.allclose(served, expected, atol=atol, rtol=atol):
            return f"{name}/{output}: max abs difference {diff:.3g} between served and in-memory outputs", diff
        return None, diff
    if not np.array_equal(served, expected):
        return f"{name}/{output}: served values differ from in-memory values", 0.0
    return None, 0.0


def run_gate(
    saved_model_dir: Path,
    reference: Mapping[str, Callable[..., Mapping[str, tf.Tensor]]],
    atol: float = 1e-5,
) -> GateReport:
    """Run the four checks on ``saved_model_dir``; raise ExportError listing every failure.

    ``reference`` maps each signature name to the in-memory function (taking the inputs as keyword
    arguments) whose outputs the served ones must equal.
    """
    saved_model_dir = Path(saved_model_dir)
    problems: list[str] = []
    warmup_path = saved_model_dir / "assets.extra" / WARMUP_FILE
    logs = []
    if not warmup_path.is_file():
        problems.append(f"missing warmup file {warmup_path}")
    else:
        try:
            logs = list(read_warmup(warmup_path))
        except Exception as exc:  # a malformed TFRecord or proto: report, do not crash
            problems.append(f"warmup file is malformed: {type(exc).__name__}: {exc}")
    if len(logs) > MAX_RECORDS:
        problems.append(f"warmup file has {len(logs)} records; TF Serving reads at most {MAX_RECORDS}")

    requests = []  # (index, log kind, signature name, feeds, expected outputs)
    for index, log in enumerate(logs):
        kind = log.WhichOneof("log_type")
        if kind not in LOG_TYPES:
            problems.append(f"warmup record {index} has type {kind!r}, which TF Serving does not replay")
            continue
        try:
            name, feeds = request_feeds(log)
        except ValueError as exc:
            problems.append(f"warmup record {index}: {exc}")
            continue
        if name not in reference:
            problems.append(f"warmup record {index}: no in-memory function {name!r} to compare against")
            continue
        expected = {k: np.asarray(v) for k, v in reference[name](**feeds).items()}
        requests.append((index, kind, name, feeds, expected))

    runs: dict[str, int] = {}
    max_diff = 0.0
    try:
        loaded = SessionModel(saved_model_dir)
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"validation gate: the session loader (TF Serving's path) cannot load it: {first_line}") from None
    with loaded:
        signatures = loaded.signature_defs
        ops = graph_ops(loaded.meta_graph)
        problems.extend(check_ops(ops))
        for index, kind, name, feeds, expected in requests:
            if name not in signatures:
                problems.append(f"warmup record {index} names signature {name!r}, which the model lacks")
                continue
            signature = signatures[name]
            wanted_method = _METHOD_OF_LOG.get(kind)
            if wanted_method and signature.method_name != wanted_method:
                problems.append(f"{name}: a {kind} needs method {wanted_method}, the signature has {signature.method_name}")
            missing = set(signature.inputs) - set(feeds)
            if missing:
                problems.append(f"warmup record {index} for {name!r} lacks inputs {sorted(missing)}")
                continue
            try:
                served = loaded.run(name, feeds)
            except Exception as exc:
                problems.append(f"{name}: running the warmup request failed: {type(exc).__name__}: {exc}")
                continue
            runs[name] = runs.get(name, 0) + 1
            for output, value in served.items():
                if output not in expected:
                    problems.append(f"{name}/{output}: the in-memory function has no such output")
                    continue
                problem, diff = _compare(name, output, value, expected[output], atol)
                max_diff = max(max_diff, diff)
                if problem:
                    problems.append(problem)
        for name in sorted(set(signatures) - set(runs) - {"__saved_model_init_op"}):
            problems.append(f"signature {name!r} has no warmup request, so it was never run")
    if problems:
        raise ExportError("export failed the validation gate: " + "; ".join(p.replace("\n", " ") for p in problems))
    return GateReport(signatures_run=runs, ops=sorted(ops), max_abs_diff=max_diff)
