"""kmeans on smoke configurations: every feature source, with or without the manifold step, exports a TF graph
whose clusters equal scikit-learn's."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from signature_support import session_run
from zoo.models.clustering.dec import target_distribution
from zoo.models.clustering.metrics import cluster_metrics, matched_accuracy
from zoo.run import main

TEST_IMAGES = 1000


def run_kmeans(tmp_path, **overrides):
    cls = zoo.get_recipe("kmeans")
    config = zoo.config.apply_overrides(cls.Config(), {"max_examples": 1000, "n_init": 2, "min_epoch_examples": 0,
                                                       **overrides})
    recipe = cls(config, run_dir=tmp_path / "run", verbose=0)
    return recipe, recipe.run(tmp_path / "exports")


def assert_export_equals_sklearn(recipe, result):
    images = recipe.load_data().test[0][:TEST_IMAGES]
    points, kmeans = result.trained.points(images), result.trained.kmeans
    signature, out = session_run(result.export.path, "serving_default", {"images": images})
    assert signature.outputs["cluster"].dtype == tf.int64.as_datatype_enum
    np.testing.assert_array_equal(out["cluster"], kmeans.predict(points))
    np.testing.assert_allclose(out["distances"], kmeans.transform(points), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_pixels_export_equals_sklearn_predict(tmp_path):
    recipe, result = run_kmeans(tmp_path, features="pixels", manifold_components=0)
    assert_export_equals_sklearn(recipe, result)
    assert 0.3 < result.metrics["test_accuracy"] <= 1.0 and 0.2 < result.metrics["test_nmi"] < 1.0  # chance: 0.1 / 0
    assert result.metrics["test_inertia"] > 0
    assert result.export.gate.signatures_run == {"serving_default": 1, "image_bytes": 1}


@pytest.mark.slow
def test_refined_autoencoder_codes_and_an_autoencoder_export_as_features(tmp_path):
    recipe, result = run_kmeans(
        tmp_path / "ae", epochs=1, refine_epochs=1, autoencoder="conv", filters="8,16", code_size=10, batch_size=64,
        manifold_components=0,
    )
    assert result.trained.kmeans.init.shape == (10, 10)  # DEC ran and its centroids seeded the final KMeans
    assert result.trained.points(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)
    assert_export_equals_sklearn(recipe, result)

    assert main(["autoencoder", "--set", "epochs=0", "--set", "max_examples=64", "--set", "filters=4",
                 "--export-dir", str(tmp_path / "ae_export"), "--run-dir", str(tmp_path / "ae_run")]) == 0
    recipe, result = run_kmeans(tmp_path / "path", features=str(tmp_path / "ae_export" / "autoencoder" / "1"),
                                manifold_components=0)
    assert result.trained.points(np.zeros((2, 28, 28), np.uint8)).shape == (2, 14 * 14 * 4)  # the export's codes
    assert_export_equals_sklearn(recipe, result)


@pytest.mark.slow
def test_dense_codes_on_the_manifold_are_exported_and_clusters_equal_sklearn(tmp_path):
    recipe, result = run_kmeans(tmp_path, epochs=10, batch_size=32, units="128", code_size=8, manifold_components=4,
                                manifold_neighbors=15, manifold_epochs=60)
    assert result.trained.model.get_layer("encoder").output.shape[-1] == 8  # the dense autoencoder's code
    assert result.trained.points(np.zeros((2, 28, 28), np.uint8)).shape == (2, 4)  # codes → UMAP coordinates
    assert result.trained.kmeans.cluster_centers_.shape == (10, 4)
    assert_export_equals_sklearn(recipe, result)
    assert 0.25 < result.metrics["test_accuracy"] <= 1.0  # chance is 0.1; 0.35-0.41 seen (seeds 0, 1)


@pytest.mark.parametrize("settings, message", [
    (["max_examples=20"], "20 training images are too few for the manifold step's 20 neighbours"),
    (["max_examples=5", "manifold_components=0"], "5 training images cannot make 10 clusters"),
])
def test_too_few_images_for_the_clusters_or_the_manifold_is_one_line(tmp_path, capsys, monkeypatch, settings, message):
    monkeypatch.chdir(tmp_path)
    assert main(["kmeans", *[a for s in settings for a in ("--set", s)], "--export-dir", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and not any(tmp_path.iterdir())


def test_hungarian_accuracy_ignores_cluster_ids():
    labels = np.repeat(np.arange(10), 5)
    permuted = (labels * 7 + 3) % 10
    assert matched_accuracy(labels, permuted) == 1.0
    metrics = cluster_metrics(labels, permuted)
    assert metrics["nmi"] == pytest.approx(1.0) and metrics["ari"] == pytest.approx(1.0)
    shuffled = np.random.default_rng(0).permutation(permuted)
    assert matched_accuracy(labels, shuffled) < 0.5


def test_target_distribution_sharpens_rows():
    q = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])
    p = target_distribution(q)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0, 0] > q[0, 0] and p[1, 1] > q[1, 1]


def test_unknown_feature_source_is_a_usage_error(tmp_path, capsys):
    assert main(["kmeans", "--set", f"features={tmp_path}/missing", "--export-dir", str(tmp_path / "x")]) == 2
    assert "neither 'pixels'" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["--list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("kmeans "))
    assert "test_accuracy >= 0.85; test_nmi >= 0.8" in row


@pytest.mark.slow
def test_the_autoencoder_is_built_inside_a_mirrored_strategy(tmp_path):
    cls = zoo.get_recipe("kmeans")
    config = zoo.config.apply_overrides(cls.Config(), cls.tiny)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    result = cls(config, run_dir=tmp_path / "run", strategy=strategy, verbose=0).run(tmp_path / "exports")
    assert result.export.gate.signatures_run == {"serving_default": 1, "image_bytes": 1}
