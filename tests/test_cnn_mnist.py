"""cnn_mnist end to end on a smoke configuration: CLI → export → TF Serving's loader path on raw images."""

import json
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo_subprocess import PYTHON, env_with
from signature_support import session_run
from zoo.data.mnist import load_mnist
from zoo.run import main

SMOKE = ["--set", "epochs=1", "--set", "max_examples=2000", "--set", "min_epoch_examples=0"]


@pytest.mark.slow
def test_cli_exports_versions_that_serve_raw_uint8_images(tmp_path, monkeypatch, capsys):
    export_dir = tmp_path / "exports"
    first = subprocess.run(
        [PYTHON, "-m", "zoo.run", "cnn_mnist", *SMOKE, "--export-dir", str(export_dir)],
        capture_output=True, text=True, cwd=tmp_path, env=env_with(), timeout=600,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "quality bar test_accuracy >= 0.994" in first.stdout and "gate passed" in first.stdout
    version = export_dir / "cnn_mnist" / "1"
    for name in ("saved_model.pb", "assets.extra/tf_serving_warmup_requests", "assets.extra/zoo.json"):
        assert (version / name).is_file(), name
    assert 'name: "cnn_mnist"' in (export_dir / "models.config").read_text()
    card = json.loads((version / "assets.extra" / "zoo.json").read_text())
    assert card["config"]["max_examples"] == 2000 and card["data"]["sha256"]
    assert 0.0 <= card["metrics"]["test_accuracy"] <= 1.0

    x_test, y_test = load_mnist().test
    signature, out = session_run(version, "serving_default", {"images": x_test[:32]})
    assert signature.inputs["images"].dtype == tf.uint8.as_datatype_enum
    assert [d.size for d in signature.inputs["images"].tensor_shape.dim] == [-1, 28, 28]
    assert out["probabilities"].shape == (32, 10)
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert out["classes"].tolist() == [str(i).encode() for i in out["probabilities"].argmax(axis=1)]  # label names
    reloaded = tf.saved_model.load(str(version)).signatures["serving_default"](images=tf.constant(x_test[:32]))
    np.testing.assert_allclose(reloaded["probabilities"].numpy(), out["probabilities"], atol=1e-6)

    examples = np.array(
        [zoo.export.signatures.int64_example(images=img.reshape(-1)).SerializeToString() for img in x_test[:3]],
        dtype=object,
    )
    _, classified = session_run(version, "classify", {"inputs": examples})
    assert classified["classes"].shape == (3, 10) and classified["classes"][0, 7] == b"7"
    np.testing.assert_allclose(classified["scores"], out["probabilities"][:3], atol=1e-6)

    monkeypatch.chdir(tmp_path)  # second run, in-process: version 2, models.config still covers it once
    assert main(["cnn_mnist", *SMOKE, "--export-dir", str(export_dir)]) == 0
    assert sorted(p.name for p in (export_dir / "cnn_mnist").iterdir()) == ["1", "2"]
    assert (export_dir / "models.config").read_text().count("cnn_mnist\"") == 2  # name + base_path


class DenseMnist(zoo.get_recipe("cnn_mnist")):
    """A user's subclass that swaps only the network."""

    def build_model(self, splits):
        inputs = keras.Input(splits.feature_shape, dtype="uint8", name="images")
        x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
        x = keras.layers.Dense(64, activation="relu")(x)
        return keras.Model(inputs, keras.layers.Dense(len(splits.label_names), activation="softmax")(x))


@pytest.mark.slow
def test_subclass_overriding_only_build_model_trains_and_exports(tmp_path):
    config = DenseMnist.Config(epochs=2, max_examples=4000, batch_size=64, max_degrees=0.0, max_shift=0.0,
                               min_epoch_examples=0)
    result = DenseMnist(config, run_dir=tmp_path / "run", verbose=0).run(tmp_path / "exports")
    assert result.recipe == "dense_mnist" and result.train_examples == 4000  # its own name, not its parent's
    assert result.metrics["test_accuracy"] > 0.85  # a 64-unit MLP on 4k images; chance is 0.1
    loss = result.trained.history["loss"]
    assert len(loss) == 2 and loss[1] < loss[0]
    assert result.export.path == tmp_path / "exports" / "dense_mnist" / "1"
    assert result.export.gate.signatures_run == {"serving_default": 1, "classify": 1, "image_bytes": 1}
    assert not (tmp_path / "run" / "backup").exists()  # the resume backup is removed once training completes


@pytest.mark.slow
def test_same_seed_with_determinism_gives_identical_runs(tmp_path):
    metrics = []
    for attempt in range(2):
        out = tmp_path / f"out{attempt}"
        run = subprocess.run(
            [PYTHON, "-m", "zoo.run", "cnn_mnist", "--set", "epochs=1", "--set", "max_examples=512",
             "--set", "filters=4", "--set", "deterministic=true", "--set", "min_epoch_examples=0",
             "--export-dir", str(out),
             "--run-dir", str(tmp_path / f"run{attempt}")],
            capture_output=True, text=True, cwd=tmp_path, env=env_with(), timeout=600,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        metrics.append(json.loads((out / "cnn_mnist" / "1" / "assets.extra" / "zoo.json").read_text())["metrics"])
    assert metrics[0] == metrics[1]
