"""Helpers for the tests that run the zoo in real subprocesses: bounded runs, exports, the TF1 loader."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

from zoo.export.versions import is_version_name

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TINY = ["--set", "epochs=1", "--set", "max_examples=256", "--set", "filters=8",  # cnn_mnist smoke run:
        "--set", "min_epoch_examples=0"]  # one pass over the 256 images an epoch


def env_with(*paths: Path | str, **extra: str) -> dict[str, str]:
    """This environment plus the repo and ``paths`` on PYTHONPATH, output unbuffered. TensorFlow's log level is
    left unset, as in a user's shell: what the zoo's commands print is then what a user sees."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *map(str, paths), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def run_python(args: list[str], *, cwd: Path, timeout: float, paths: tuple = ()) -> subprocess.CompletedProcess:
    """``python ARGS`` in ``cwd``; stdout and stderr captured as text; killed after ``timeout`` seconds."""
    return subprocess.run([PYTHON, *args], cwd=cwd, env=env_with(*paths), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def only_version(export_dir: Path, model: str) -> Path:
    """The single published version of ``model``; fails if there is none or more than one."""
    versions = sorted(p.name for p in (export_dir / model).iterdir() if p.is_dir() and is_version_name(p.name))
    assert versions == ["1"], f"expected exactly version 1 of {model}, found {versions}"
    return export_dir / model / "1"


def predict_with_session_loader(version_dir: Path, images: np.ndarray) -> np.ndarray:
    """``probabilities`` from ``serving_default``, loaded with the TF1 session loader as TF Serving does."""
    from zoo.export.session import SessionModel

    with SessionModel(version_dir) as model:
        return model.run("serving_default", {"images": images}, fetches=["probabilities"])["probabilities"]


def assert_serves_digits(version_dir: Path) -> None:
    """The export loads with the session loader and maps two uint8 images to two probability rows."""
    images = np.random.default_rng(0).integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    probabilities = predict_with_session_loader(version_dir, images)
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def set_options(overrides: dict) -> list[str]:
    """``{"a": 1, "b": (2, 3)}`` → ``["--set", "a=1", "--set", "b=2,3"]`` (tuples as the CLI's comma lists)."""
    def text(value):
        return ",".join(map(str, value)) if isinstance(value, (tuple, list)) else str(value)

    return [arg for key, value in overrides.items() for arg in ("--set", f"{key}={text(value)}")]


def launched_workers(launcher: subprocess.Popen) -> dict:
    """The worker processes a running ``python -m zoo.launch`` started, as psutil processes by task index."""
    import psutil

    return {int(json.loads(child.environ()["TF_CONFIG"])["task"]["index"]): child
            for child in psutil.Process(launcher.pid).children()}


@contextlib.contextmanager
def launcher_cleaned_up(launcher: subprocess.Popen) -> Iterator[dict]:
    """A dict to put the launcher's workers in (:func:`launched_workers`); on leaving, the launcher is killed, and
    any worker it left running (a test's failure must not leave training processes behind)."""
    import psutil

    workers: dict = {}
    try:
        yield workers
    finally:
        launcher.kill()
        launcher.wait()
        for worker in workers.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
