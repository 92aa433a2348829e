"""Server-side batching, like ``tensorflow_model_server --enable_batching``.

Concurrent requests for the same signature, with the same inputs and trailing shapes, are concatenated along
dimension 0, run once, and the outputs split back. If the merged run fails, or an output does not keep the
batch dimension, each request is run on its own so every caller gets its own answer or its own error.

A request with a scalar (rank-0) input, such as a ``generate`` signature's ``max_new_tokens`` or ``num_beams``,
is always run on its own, never merged: a scalar has no dimension 0 to concatenate along, and it sets how every
row of its own request is run. So are a request without inputs and one whose inputs differ in dimension 0.

Example:

>>> import numpy as np
>>> batcher = Batcher(lambda signature, feeds, fetches: {"y": feeds["x"] * 2}, BatchingOptions())
>>> batcher.run("serving_default", {"x": np.array([1.0, 2.0])}, ("y",))["y"].tolist()
[2.0, 4.0]
>>> batcher.close()
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import queue
import threading
import time
from typing import Callable, Mapping, Sequence

import numpy as np

RunFn = Callable[[str, Mapping[str, np.ndarray], Sequence[str]], dict[str, np.ndarray]]


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
    """``max_batch_size`` rows per merged run; wait at most ``timeout_seconds`` for a batch to fill."""

    max_batch_size: int = 32
    timeout_seconds: float = 0.002
    num_threads: int = 2


@dataclasses.dataclass
class _Task:
    key: tuple
    signature: str
    feeds: Mapping[str, np.ndarray]
    fetches: tuple[str, ...]
    rows: int
    future: concurrent.futures.Future = dataclasses.field(default_factory=concurrent.futures.Future)


class Batcher:
    """Merges concurrent ``run`` calls into batched calls of ``run_fn`` on worker threads."""

    def __init__(self, run_fn: RunFn, options: BatchingOptions, on_batch: Callable[[str, int], None] | None = None):
        self.run_fn = run_fn
        self.options = options
        self.on_batch = on_batch or (lambda signature, rows: None)  # each batch run: its signature and rows
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._filling = threading.Lock()  # one batch is open at a time: threads take turns to fill one
        self._threads = [threading.Thread(target=self._work, daemon=True, name="zoo-batcher")
                         for _ in range(options.num_threads)]
        for thread in self._threads:
            thread.start()

    def run(self, signature: str, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> dict[str, np.ndarray]:
        """Run one request (blocking); unbatchable ones (scalar inputs, no inputs) run directly."""
        arrays = list(feeds.values())
        if not arrays or any(a.ndim == 0 for a in arrays) or len({a.shape[0] for a in arrays}) != 1:
            return self.run_fn(signature, feeds, fetches)
        key = (signature, tuple(fetches), tuple(sorted((n, a.dtype.str, a.shape[1:]) for n, a in feeds.items())))
        task = _Task(key, signature, feeds, tuple(fetches), arrays[0].shape[0])
        self._queue.put(task)
        return task.future.result()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            with self._filling:
                batch = self._fill()
            if batch is None:
                return
            self._execute(batch)

    def _fill(self) -> list[_Task] | None:
        """The next batch: the first task queued, then those that arrive within the timeout and fit (None: stop)."""
        first = self._queue.get()
        if first is None:
            return None
        batch, rows, others = [first], first.rows, []
        deadline = time.monotonic() + self.options.timeout_seconds
        while rows < self.options.max_batch_size:
            try:
                task = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if task is None:
                others.append(task)
                break
            if task.key == first.key and rows + task.rows <= self.options.max_batch_size:
                batch.append(task)
                rows += task.rows
            else:
                others.append(task)
        for task in others:  # other shapes (and the stop signal) wait for the next round
            self._queue.put(task)
        return batch

    def _execute(self, batch: list[_Task]) -> None:
        if len(batch) > 1:
            merged = {name: np.concatenate([t.feeds[name] for t in batch]) for name in batch[0].feeds}
            try:
                outputs = self.run_fn(batch[0].signature, merged, batch[0].fetches)
            except Exception:
                outputs = None  # run each on its own below, so the error reaches only the request that caused it
            total = sum(t.rows for t in batch)
            if outputs is not None and all(np.ndim(v) > 0 and np.shape(v)[0] == total for v in outputs.values()):
                self.on_batch(batch[0].signature, total)
                start = 0
                for task in batch:
                    task.future.set_result({k: v[start:start + task.rows] for k, v in outputs.items()})
                    start += task.rows
                return
        for task in batch:
            try:
                outputs = self.run_fn(task.signature, task.feeds, task.fetches)
            except Exception as exc:
                task.future.set_exception(exc)
                continue
            self.on_batch(task.signature, task.rows)
            task.future.set_result(outputs)
