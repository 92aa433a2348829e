"""One loaded SavedModel version: its own graph and session, run as TF Serving runs it.

The version is loaded with the TF1 session loader (with tensorflow-text's ops registered, as in the stock
``tensorflow_model_server``) and the ``serve`` tag, its warmup requests
(``assets.extra/tf_serving_warmup_requests``) are replayed, and signatures are run by feeding and fetching
their tensor names. Requests hold the version while they run; a retired version closes its session only when
the last of them is done.

Example:

>>> model = LoadedVersion("half_plus_two", 1, "saved_models/half_plus_two/1")          # doctest: +SKIP
>>> model.run("serving_default", {"x": np.array([1.0, 2.0], np.float32)})["y"].tolist()  # doctest: +SKIP
[2.5, 3.0]
>>> model.retire()                                                                        # doctest: +SKIP
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from zoo.export.session import SessionModel
from zoo.export.warmup import WARMUP_FILE, read_warmup, request_feeds
from zoo.serve.batching import Batcher, BatchingOptions
from zoo.serve.metrics import ServingMetrics
from zoo.serve.errors import ServingError, from_tf_error, invalid

INIT_OP_SIGNATURE = "__saved_model_init_op"


class LoadedVersion:
    """A servable version: ``signatures`` (SignatureDefs by name) and ``run``."""

    def __init__(self, name: str, version: int, path: str | Path, batching: BatchingOptions | None = None,
                 metrics: ServingMetrics | None = None):
        self.name = name
        self.version = version
        self.path = Path(path)
        self.model = SessionModel(self.path)
        self.signature_defs = self.model.signature_defs
        try:
            self._replay_warmup()
        except Exception:
            self.model.close()
            raise
        on_batch = (lambda signature, rows: metrics.record_batch(name, signature, rows)) if metrics else None
        self._batcher = Batcher(self._run_now, batching, on_batch) if batching else None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._retired = False

    def signature(self, name: str):
        """The SignatureDef called ``name`` (``""`` means ``serving_default``); INVALID_ARGUMENT if absent."""
        name = name or "serving_default"
        if name == INIT_OP_SIGNATURE or name not in self.signature_defs:
            raise invalid(f'Serving signature name: "{name}" not found in signature def')
        return self.signature_defs[name]

    def run(self, signature: str, feeds: Mapping[str, np.ndarray], fetches: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Run a signature on ``feeds`` (every input, by alias); return ``fetches`` (default: every output)."""
        signature_def = self.signature(signature)
        expected = set(signature_def.inputs)
        if set(feeds) != expected:
            unknown = sorted(set(feeds) - expected)
            if unknown:
                raise invalid(f"input tensor alias not found in signature: {unknown[0]}. "
                              f"Inputs expected to be in the set {{{','.join(sorted(expected))}}}.")
            raise invalid(f"Missing inputs: {','.join(sorted(expected - set(feeds)))}")
        for output in fetches:
            if output not in signature_def.outputs:
                raise invalid(f"output tensor alias not found in signature: {output} "
                              f"Outputs expected to be in the set {{{','.join(sorted(signature_def.outputs))}}}.")
        fetches = tuple(fetches) or tuple(signature_def.outputs)
        if self._batcher is not None:
            return self._batcher.run(signature or "serving_default", feeds, fetches)
        return self._run_now(signature or "serving_default", feeds, fetches)

    def _run_now(self, signature: str, feeds: Mapping[str, np.ndarray], fetches: Sequence[str]) -> dict[str, np.ndarray]:
        try:
            return self.model.run(signature, feeds, fetches)
        except tf.errors.OpError as exc:
            raise from_tf_error(exc) from None
        except (ValueError, TypeError) as exc:  # the client checks shapes and dtypes before running
            raise invalid(str(exc)) from None

    def _replay_warmup(self) -> None:
        path = self.path / "assets.extra" / WARMUP_FILE
        if not path.is_file():
            return
        for log in read_warmup(path):
            signature, feeds = request_feeds(log)
            self._run_now(signature, feeds, tuple(self.signature_defs[signature].outputs))

    def acquire(self) -> None:
        with self._lock:
            if self._retired:
                raise ServingError("UNAVAILABLE", f"version {self.version} of model {self.name} is unloading")
            self._in_flight += 1

    def release(self) -> None:
        with self._lock:
            self._in_flight -= 1
            idle = self._retired and self._in_flight == 0
        if idle:
            self._close()

    def retire(self) -> None:
        """Stop accepting requests; close once the in-flight ones finish."""
        with self._lock:
            self._retired = True
            idle = self._in_flight == 0
        if idle:
            self._close()

    def _close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        self.model.close()
