"""Importing TensorFlow without its native start-up lines on stderr (for one-line CLI errors and clean logs)."""

from __future__ import annotations

import contextlib
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


def import_tensorflow_quietly() -> None:
    """Import tensorflow and probe its devices with the native start-up chatter suppressed.

    Listing physical devices is where the GPU build looks for CUDA (and logs an error on a machine without
    it); it does not initialise the runtime, so logical devices and distribution strategies can still be
    configured afterwards.
    """
    with native_stderr_silenced():
        import tensorflow

        tensorflow.config.list_physical_devices()


# Notices that libraries repeat on every run for things the zoo does on purpose, each with the reason it is safe:
KNOWN_NOTICES = (
    # KerasHub's T5 attention layers get the zoo's explicit padding masks; Keras' implicit mask is not needed.
    r"Layer '.*' \(of type T5MultiHeadAttention\) was passed an input with a mask attached to it",
    # bert/electra classify from the masked mean of the sequence output, not the backbone's pooled output.
    r"Gradients do not exist for variables \['pooled_dense",
)
# tf.function's retracing notice, which Keras' predict/evaluate trigger once per new input shape or model.
RETRACING = "triggered tf.function retracing"


class _DropRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return RETRACING not in record.getMessage()


@contextlib.contextmanager
def known_notices_quieted() -> Iterator[None]:
    """Hide :data:`KNOWN_NOTICES` and TensorFlow's retracing notice while the block runs (a recipe run), so the
    console shows progress and results; every other warning still shows.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     with known_notices_quieted():
    ...         warnings.warn("Gradients do not exist for variables ['pooled_dense/kernel']")
    ...         warnings.warn("something else")
    >>> [str(w.message) for w in seen]
    ['something else']
    """
    logger, drop = logging.getLogger("tensorflow"), _DropRetracing()
    with warnings.catch_warnings():
        for pattern in KNOWN_NOTICES:
            warnings.filterwarnings("ignore", message=pattern)
        logger.addFilter(drop)
        try:
            yield
        finally:
            logger.removeFilter(drop)
