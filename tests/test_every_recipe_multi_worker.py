"""Every registered recipe, built-in or plugin, trains under ``python -m zoo.launch --workers 2`` with its ``tiny``
config (a clean subprocess per recipe) and exactly one version is published, by the chief. Registering a recipe
puts it under this test, as tests/test_every_recipe.py does for one process."""

from __future__ import annotations

import json

import pytest

import zoo
from zoo_subprocess import only_version, run_python, set_options

SECONDS = 600


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo.list_recipes())
def test_two_workers_train_every_recipe_and_only_the_chief_publishes(tmp_path, name):
    done = run_python(["-m", "zoo.launch", "--workers", "2", "--timeout", str(SECONDS), name,
                       *set_options(zoo.get_recipe(name).tiny), "--export-dir", str(tmp_path / "exports"),
                       "--run-dir", str(tmp_path / "run")], cwd=tmp_path, timeout=SECONDS + 60)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    version = only_version(tmp_path / "exports", name)
    card = json.loads((version / "assets.extra" / "zoo.json").read_text())
    assert card["recipe"] == name and card["metrics"]
    summary = [line for line in (tmp_path / "run" / "worker-1" / "output.log").read_text().splitlines()
               if line.startswith(f"{name}: ") and "training examples" in line]
    assert summary  # worker 1 trained and evaluated too (its output goes to its log) ...
    assert f"exported {version}" in done.stdout  # ... and the chief alone published
