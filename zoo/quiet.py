"""Importing TensorFlow without its native start-up lines on stderr (for one-line CLI errors and clean logs)."""

from __future__ import annotations

import contextlib
import os
import sys
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
