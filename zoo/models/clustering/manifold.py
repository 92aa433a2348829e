"""A learned manifold step before KMeans: UMAP on the training features, distilled into a TF network.

KMeans wants round, well-separated clusters; an autoencoder's codes are neither. N2D (McConville et al.,
2020) embeds the codes with UMAP, which pulls the points of each class together along the data's manifold,
and clusters the embedding. UMAP itself is not a TF graph and cannot serve new points without Python, so
here a small multilayer perceptron is trained to map each training feature to its UMAP coordinates; that
network is the step that is exported, and KMeans is fitted on *its* outputs, so the served clusters are
exactly scikit-learn's ``predict`` on the same features.

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> blobs = np.concatenate([rng.normal(c, 0.1, (100, 5)) for c in (0.0, 3.0)])
>>> step = fit_manifold(blobs.astype(np.float32), components=2, neighbors=10, epochs=5, seed=0)  # doctest: +SKIP
>>> step(blobs[:3]).shape                                                                          # doctest: +SKIP
TensorShape([3, 2])
"""

from __future__ import annotations

import keras
import numpy as np

from zoo.errors import DataError
from zoo.schedules import cosine_schedule

HIDDEN_UNITS = (256, 256)


def umap_embedding(features: np.ndarray, components: int, neighbors: int, seed: int, verbose: bool = False) -> np.ndarray:
    """UMAP coordinates [N, components] of ``features`` [N, D] (``min_dist=0``: tight clusters, as N2D uses).

    Seeded, so single-threaded: UMAP runs in parallel only when unseeded. ``verbose`` prints UMAP's stages and a
    progress bar over its optimisation epochs.
    """
    import umap  # imported here: its import takes seconds (numba, pynndescent), which the rest of the zoo skips

    reducer = umap.UMAP(n_components=components, n_neighbors=neighbors, min_dist=0.0, random_state=seed, n_jobs=1,
                        verbose=verbose)
    return np.asarray(reducer.fit_transform(features), np.float32)


def manifold_network(input_dim: int, components: int) -> keras.Sequential:
    """Features [N, input_dim] → manifold coordinates [N, components]: two GELU layers and a linear output."""
    layers = [keras.Input((input_dim,), name="features")]
    layers += [keras.layers.Dense(units, activation="gelu") for units in HIDDEN_UNITS]
    layers.append(keras.layers.Dense(components, name="coordinates"))
    return keras.Sequential(layers, name="manifold")


def fit_manifold(
    features: np.ndarray,
    *,
    components: int,
    neighbors: int,
    epochs: int,
    seed: int,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    verbose: int | str = 0,
) -> keras.Sequential:
    """Embed ``features`` with UMAP, then train :func:`manifold_network` to reproduce the embedding (MSE).

    Returns the trained network; its outputs on ``features`` approximate the UMAP embedding, and it
    applies to unseen features as a plain TF graph.
    """
    features = np.asarray(features, np.float32)
    if len(features) <= neighbors:
        raise DataError(f"the manifold step needs more than {neighbors} (manifold_neighbors) training examples, "
                         f"got {len(features)}")
    targets = umap_embedding(features, components, neighbors, seed, verbose=bool(verbose))
    network = manifold_network(features.shape[1], components)
    steps = epochs * -(-len(features) // batch_size)
    network.compile(optimizer=keras.optimizers.Adam(cosine_schedule(learning_rate, steps)), loss="mse")
    network.fit(features, targets, batch_size=batch_size, epochs=epochs, verbose=verbose)
    return network
