"""Shared test fixtures: small servables and the environment every test runs in."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import zoo  # noqa: E402,F401  (imports TensorFlow quietly)
import tensorflow as tf  # noqa: E402

from zoo.export import Endpoint, Servable  # noqa: E402


# Scripts that write fixtures with torch (the `bench` extra): run by hand, not collected.
collect_ignore_glob = ["fixtures/*.py"]


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


@pytest.fixture(scope="session")
def tiny_exports(tmp_path_factory):
    """Every registered recipe run once with its ``tiny`` config through ``python -m zoo.run`` in a clean
    subprocess (two at a time), all exporting into one directory: ``(export_dir, {name: CompletedProcess})``.

    Shared by the registry-wide recipe test and the serving tests, so each recipe is trained once per session.
    """
    from concurrent.futures import ThreadPoolExecutor

    from zoo_subprocess import run_python, set_options

    root = tmp_path_factory.mktemp("tiny_exports")
    export_dir = root / "saved_models"

    def run(name):
        args = ["-m", "zoo.run", name, *set_options(zoo.get_recipe(name).tiny), "--export-dir", str(export_dir)]
        return run_python(args, cwd=root, timeout=900)

    names = zoo.list_recipes()
    with ThreadPoolExecutor(max_workers=2) as pool:
        return export_dir, dict(zip(names, pool.map(run, names)))
