"""Importing TensorFlow without its native start-up lines on stderr (for one-line CLI errors and clean logs)."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import warnings
from typing import Iterator


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while the block runs; Python exceptions still surface after it."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    """Runs tensorflow's ``__init__`` and its device probe with file descriptor 2 silenced.

    Listing physical devices is where the GPU build looks for CUDA (and logs an error on a machine without
    it); it does not initialise the runtime, so logical devices and distribution strategies can still be
    configured afterwards.
    """

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with native_stderr_silenced():
            self._loader.exec_module(module)
            module.config.list_physical_devices()

    def __getattr__(self, name: str):  # resource readers and the like, as the file loader provides them
        return getattr(self._loader, name)


class _QuietTensorflowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the usual way, once, and hands it a :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the finders after it find tensorflow the usual way
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


_FINDER = _QuietTensorflowFinder()


def install_quiet_tensorflow_import() -> None:
    """Have the first ``import tensorflow`` (by any module: Keras, a recipe, the user) run with its native
    start-up chatter (oneDNN, CUDA probing) suppressed, without importing it now: ``python -m zoo.run --list`` imports no
    TensorFlow. Does nothing when tensorflow is already imported.

    >>> install_quiet_tensorflow_import()
    >>> import tensorflow  # nothing from TensorFlow's native start-up reaches the console
    """
    if "tensorflow" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


# Notices that libraries repeat on every run for things the zoo does on purpose, each with the reason it is safe:
KNOWN_NOTICES = (
    # KerasHub's T5 attention layers get the zoo's explicit padding masks; Keras' implicit mask is not needed.
    r"Layer '.*' \(of type T5MultiHeadAttention\) was passed an input with a mask attached to it",
    # bert/electra classify from the masked mean of the sequence output, not the backbone's pooled output.
    r"Gradients do not exist for variables \['pooled_dense",
)
# TensorFlow's log lines of the same kind, each with the reason it is safe:
KNOWN_LOG_LINES = (
    # tf.function's retracing notice, which Keras' predict/evaluate trigger once per new input shape or model.
    "triggered tf.function retracing",
    # Keras 3's fit reduces each epoch's logs through the strategy outside a tf.function (a few values an epoch,
    # not a step), which multi-worker training then announces up to 5 times per worker.
    "eagerly has significant overhead currently",
)


class _DropKnownLogLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(line in message for line in KNOWN_LOG_LINES)


@contextlib.contextmanager
def known_notices_quieted() -> Iterator[None]:
    """Hide :data:`KNOWN_NOTICES` and :data:`KNOWN_LOG_LINES` while the block runs (a recipe run), so the console
    shows progress and results; every other warning still shows.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     with known_notices_quieted():
    ...         warnings.warn("Gradients do not exist for variables ['pooled_dense/kernel']")
    ...         warnings.warn("something else")
    >>> [str(w.message) for w in seen]
    ['something else']
    """
    logger, drop = logging.getLogger("tensorflow"), _DropKnownLogLines()
    with warnings.catch_warnings():
        for pattern in KNOWN_NOTICES:
            warnings.filterwarnings("ignore", message=pattern)
        logger.addFilter(drop)
        try:
            yield
        finally:
            logger.removeFilter(drop)
