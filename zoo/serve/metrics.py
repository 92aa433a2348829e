"""What ``zoo.serve`` counts, under TF Serving's metric names, rendered in Prometheus' text format.

TF Serving's names and labels (its ``servables/tensorflow/util.cc``, TensorFlow's ``saved_model/loader.cc`` and
batching library), each written as its Prometheus exporter writes it (``/`` → ``:``), so dashboards built for
``tensorflow_model_server`` read these too:

- ``:tensorflow:serving:request_count{model_name, status}``: requests per model and canonical status (``OK``,
  ``INVALID_ARGUMENT``, …);
- ``:tensorflow:serving:request_latency{model_name, API, entrypoint}``: histogram of wall time in microseconds,
  API ``Predict``/``Classify``/``Regress``, entrypoint ``REST`` or ``GRPC``; TF Serving's buckets (10 µs × 1.8^k,
  33 of them);
- ``:tensorflow:serving:batching:processed_batch_size_v2{model_name, op_name, batch_size}``: merged batches run,
  by size (with ``--enable-batching``; ``op_name`` is the signature);
- ``:tensorflow:cc:saved_model:load_attempt_count{model_path, status}``: SavedModel loads, ``success`` or
  ``fail``.

Example:

>>> metrics = ServingMetrics()
>>> metrics.record_request("half_plus_two", "Predict", "REST", "OK", seconds=0.002)
>>> for line in metrics.render().splitlines():
...     if "request_count" in line:
...         print(line)
# TYPE :tensorflow:serving:request_count counter
:tensorflow:serving:request_count{model_name="half_plus_two",status="OK"} 1
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
PROCESSED_BATCH_SIZE = ":tensorflow:serving:batching:processed_batch_size_v2"
LOAD_ATTEMPT_COUNT = ":tensorflow:cc:saved_model:load_attempt_count"
LATENCY_BUCKETS = tuple(10 * 1.8 ** k for k in range(33))  # microseconds, as TF Serving's request_latency


class ServingMetrics:
    """Counters and latency histograms of one server, safe to update from its REST and gRPC threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], int]] = defaultdict(lambda: defaultdict(int))
        self._latency: dict[tuple[tuple[str, str], ...], list[float]] = {}  # bucket counts, then sum, count

    def record_request(self, model_name: str, api: str, entrypoint: str, status: str, seconds: float) -> None:
        """One answered request: its model, API, entrypoint, canonical status and wall time."""
        microseconds = seconds * 1e6
        labels = (("model_name", model_name), ("API", api), ("entrypoint", entrypoint))
        with self._lock:
            self._counters[REQUEST_COUNT][(("model_name", model_name), ("status", status))] += 1
            cells = self._latency.setdefault(labels, [0.0] * (len(LATENCY_BUCKETS) + 3))
            cells[bisect.bisect_left(LATENCY_BUCKETS, microseconds)] += 1  # the last bucket is +Inf
            cells[-2] += microseconds
            cells[-1] += 1

    def record_batch(self, model_name: str, signature: str, rows: int) -> None:
        """One merged batch of ``rows`` run on ``signature``."""
        self._count(PROCESSED_BATCH_SIZE, model_name=model_name, op_name=signature, batch_size=str(rows))

    def record_load(self, model_path: str, succeeded: bool) -> None:
        """One SavedModel load attempt."""
        self._count(LOAD_ATTEMPT_COUNT, model_path=model_path, status="success" if succeeded else "fail")

    def _count(self, name: str, **labels: str) -> None:
        with self._lock:
            self._counters[name][tuple(labels.items())] += 1

    def render(self) -> str:
        """Every metric in Prometheus' text exposition format (version 0.0.4)."""
        lines = []
        with self._lock:
            for name in (REQUEST_COUNT, PROCESSED_BATCH_SIZE, LOAD_ATTEMPT_COUNT):
                cells = sorted(self._counters.get(name, {}).items())
                if cells:
                    lines.append(f"# TYPE {name} counter")
                    lines += [f"{name}{_labels(labels)} {count}" for labels, count in cells]
            if self._latency:
                lines.append(f"# TYPE {REQUEST_LATENCY} histogram")
            for labels, cells in sorted(self._latency.items()):
                cumulative = 0.0
                for bound, count in zip([*map(_number, LATENCY_BUCKETS), "+Inf"], cells[:-2]):
                    cumulative += count
                    lines.append(f"{REQUEST_LATENCY}_bucket{_labels(labels + (('le', bound),))} {cumulative:g}")
                lines.append(f"{REQUEST_LATENCY}_sum{_labels(labels)} {_number(cells[-2])}")
                lines.append(f"{REQUEST_LATENCY}_count{_labels(labels)} {cells[-1]:g}")
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return f"{value:.10g}"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    escaped = (f'{key}="{_escape(value)}"' for key, value in labels)
    return "{" + ",".join(escaped) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
