"""The manifold step: UMAP coordinates distilled into a Keras network that maps unseen features like the seen ones."""

import numpy as np
import pytest

from zoo.models.clustering.manifold import fit_manifold, manifold_network
from zoo.errors import DataError


def two_blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], n // 2)
    return (rng.normal(0.0, 0.3, (n, 8)) + 4.0 * labels[:, None]).astype(np.float32), labels


def test_network_maps_features_to_coordinates():
    assert manifold_network(8, 3)(np.zeros((5, 8), np.float32)).shape == (5, 3)


@pytest.mark.slow
def test_unseen_points_land_beside_their_own_blob():
    train, _ = two_blobs(200, seed=0)
    test, labels = two_blobs(40, seed=1)
    network = fit_manifold(train, components=2, neighbors=10, epochs=30, seed=0)
    coordinates = np.asarray(network(test))
    centres = np.stack([coordinates[labels == k].mean(axis=0) for k in (0, 1)])
    nearest = np.argmin(((coordinates[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    spread = max(np.linalg.norm(coordinates[labels == k] - centres[k], axis=1).max() for k in (0, 1))
    assert (nearest == labels).all() and np.linalg.norm(centres[0] - centres[1]) > 2 * spread


def test_too_few_examples_is_a_clear_error():
    with pytest.raises(DataError, match="more than 10"):
        fit_manifold(np.zeros((10, 4), np.float32), components=2, neighbors=10, epochs=1, seed=0)
