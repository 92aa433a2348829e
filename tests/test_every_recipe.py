"""Every registered recipe, run the way users run it: ``python -m zoo.run NAME`` with the recipe's ``tiny`` config
in a clean subprocess (the session fixture ``tiny_exports``), then its export checked as TF Serving would see it.

Registering a recipe is what puts it under this test: the parameters are ``zoo.list_recipes()``.
"""

import json
import math

import numpy as np
import pytest
from tensorflow_serving.config import model_server_config_pb2
from google.protobuf import text_format

import zoo
from signature_support import session_run
from zoo.export.warmup import read_warmup, request_feeds
from zoo.run import main

RECIPES = zoo.list_recipes()


@pytest.mark.slow
@pytest.mark.parametrize("name", RECIPES)
def test_tiny_run_exports_a_version_that_passes_the_gate(tiny_exports, name):
    export_dir, runs = tiny_exports
    run = runs[name]
    assert run.returncode == 0, f"python -m zoo.run {name} failed:\n{run.stderr[-4000:]}"
    assert "gate passed" in run.stdout and "Traceback" not in run.stderr
    version = export_dir / name / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()

    card = json.loads((version / "assets.extra" / "zoo.json").read_text())
    recipe = zoo.get_recipe(name)
    assert card["recipe"] == name and card["version"] == 1
    assert {k: card["config"][k] for k in recipe.tiny} == {
        k: list(v) if isinstance(v, tuple) else v for k, v in recipe.tiny.items()
    }
    assert card["metrics"] and all(math.isfinite(v) for v in card["metrics"].values())
    assert card["data"]["source"]

    logs = list(read_warmup(version / "assets.extra" / "tf_serving_warmup_requests"))
    assert 1 <= len(logs) <= 1000
    signatures = set()
    for log in logs:  # every warmup request replays through the TF1 session loader, as TF Serving's load does
        signature_name, feeds = request_feeds(log)
        _, outputs = session_run(version, signature_name, feeds)
        rows = {len(v) for v in feeds.values() if np.ndim(v)}  # the batch (a generate request has scalars too)
        assert len(rows) == 1 and outputs and all(len(v) in rows for v in outputs.values())
        signatures.add(signature_name)
    assert "serving_default" in signatures


@pytest.mark.slow
def test_models_config_lists_every_recipe(tiny_exports):
    export_dir, _ = tiny_exports
    config = text_format.Parse((export_dir / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    assert sorted(c.name for c in config.model_config_list.config) == RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_a_bad_value_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    assert main([name, "--set", "epochs=three", "--export-dir", str(tmp_path / "exports")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "epochs" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())
