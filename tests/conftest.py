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
def tiny_exports(tmp_path_factory, worker_id):
    """Every registered recipe run once with its ``tiny`` config through ``python -m zoo.run`` in a clean
    subprocess (two at a time), all exporting into one directory: ``(export_dir, {name: CompletedProcess})``.

    Shared by the registry-wide recipe test and the serving tests, so each recipe is trained once per session,
    also when the session is split over several test processes (``make test``: pytest-xdist): the first process to
    ask runs them under a lock in the session's shared temporary folder, the others read what it recorded.
    """
    import fcntl
    import json
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from zoo_subprocess import run_python, set_options

    shared = tmp_path_factory.getbasetemp()
    root = (shared.parent if worker_id != "master" else shared) / "tiny_exports"
    root.mkdir(exist_ok=True)
    export_dir, record = root / "saved_models", root / "runs.json"

    def run(name):
        args = ["-m", "zoo.run", name, *set_options(zoo.get_recipe(name).tiny), "--export-dir", str(export_dir)]
        return run_python(args, cwd=root, timeout=900)

    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not record.exists():
            names = zoo.list_recipes()
            with ThreadPoolExecutor(max_workers=2) as pool:
                done = dict(zip(names, pool.map(run, names)))
            record.write_text(json.dumps({name: [p.args, p.returncode, p.stdout, p.stderr] for name, p in done.items()}))
    runs = {name: subprocess.CompletedProcess(*fields) for name, fields in json.loads(record.read_text()).items()}
    return export_dir, runs
