"""autoencoder on a smoke configuration: CLI → export through the gate → reconstruct, encode and decode as served."""

import json

import numpy as np
import pytest
import tensorflow as tf

from signature_support import session_run
from zoo.data.mnist import load_mnist
from zoo.run import main
from recipes.autoencoder import add_noise

SMOKE = {"epochs": 2, "max_examples": 2048, "batch_size": 32, "learning_rate": 5e-3, "filters": "8,16", "noise": 0.2,
         "min_epoch_examples": 0}


@pytest.fixture(scope="module")
def version(tmp_path_factory):
    root = tmp_path_factory.mktemp("autoencoder")
    sets = [arg for key, value in SMOKE.items() for arg in ("--set", f"{key}={value}")]
    assert main(["autoencoder", *sets, "--export-dir", str(root / "exports"), "--run-dir", str(root / "run")]) == 0
    return root / "exports" / "autoencoder" / "1"


@pytest.fixture(scope="module")
def images():
    return load_mnist().test[0][:16]


@pytest.mark.slow
def test_training_learns_to_reconstruct(version):
    metrics = json.loads((version / "assets.extra" / "zoo.json").read_text())["metrics"]
    # An untrained decoder outputs ~0.5 everywhere: BCE ≈ 0.69. Two short epochs already do far better.
    assert metrics["test_bce"] < 0.3
    assert metrics["test_denoising_bce"] < 0.3  # from noisy test inputs (the training condition)


@pytest.mark.slow
def test_served_signatures_reconstruct_encode_and_decode(version, images):
    signature, out = session_run(version, "serving_default", {"images": images})
    assert signature.inputs["images"].dtype == tf.uint8.as_datatype_enum
    reconstructions = out["reconstructions"]
    assert reconstructions.shape == (16, 28, 28) and 0.0 <= reconstructions.min() and reconstructions.max() <= 1.0
    bce = -np.mean(images / 255 * np.log(reconstructions + 1e-7) + (1 - images / 255) * np.log(1 - reconstructions + 1e-7))
    assert bce < 0.3

    signature, encoded = session_run(version, "encode", {"images": images})
    assert encoded["codes"].shape == (16, 7, 7, 16)
    assert [d.size for d in signature.outputs["codes"].tensor_shape.dim] == [-1, 7, 7, 16]
    _, decoded = session_run(version, "decode", {"codes": encoded["codes"]})
    np.testing.assert_allclose(decoded["reconstructions"], reconstructions, atol=1e-5)
    assert decoded["images"].dtype == np.uint8
    np.testing.assert_array_equal(decoded["images"], np.round(decoded["reconstructions"] * 255).astype(np.uint8))


def test_noise_is_seeded_clipped_uint8(images):
    seed = tf.constant([3, 4], tf.int64)
    noisy = add_noise(tf.constant(images), 0.3, seed).numpy()
    assert noisy.dtype == np.uint8 and noisy.shape == images.shape
    np.testing.assert_array_equal(noisy, add_noise(tf.constant(images), 0.3, seed).numpy())
    assert not np.array_equal(noisy, add_noise(tf.constant(images), 0.3, tf.constant([5, 6], tf.int64)).numpy())
    background = images == 0  # noise on black pixels is clipped at 0, so about half stay 0
    assert 0.3 < np.mean(noisy[background] == 0) < 0.7


def test_bad_config_is_a_usage_error(capsys):
    assert main(["autoencoder", "--set", "filters=8,16,32"]) == 2
    assert "one or two" in capsys.readouterr().err
    assert main(["--list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("autoencoder "))
    assert "test_bce <= 0.065" in row
