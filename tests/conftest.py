"""Shared test fixtures: small servables and the environment every test runs in."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import zoo  # noqa: E402,F401  (imports TensorFlow quietly)
import tensorflow as tf  # noqa: E402

from zoo.export import Endpoint, Servable  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_half_plus_two() -> Servable:
    """TF Serving's canonical test model: y = 0.5 * x + 2, one float input ``x``, one output ``y``."""
    return Servable(
        tracked=[],
        endpoints={
            "serving_default": Endpoint(
                fn=lambda x: {"y": 0.5 * x + 2.0},
                input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
                warmup={"x": np.array([1.0, 2.0, 5.0], np.float32)},
            )
        },
    )


@pytest.fixture
def half_plus_two() -> Servable:
    return make_half_plus_two()


def zoo_env(**extra: str) -> dict[str, str]:
    """Environment for ``python -m zoo.*`` subprocesses: the repo importable, TF quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra)
    return env


PYTHON = sys.executable
