"""MNIST autoencoders (uint8 images in, pixel probabilities out) and their serving signatures.

Shared by the ``autoencoder`` recipe and the ``kmeans`` recipe (which clusters the codes). The convolutional
one's encoder is strided 3×3 convolutions (28→14→7 pixels), optionally flattened into a dense code of
``code_size`` values; its decoder mirrors it with transposed convolutions and ends in a sigmoid. The dense one
(:func:`build_dense_autoencoder`) is the fully connected stack clustering papers use.

Example:

>>> import numpy as np
>>> parts = build_conv_autoencoder(filters=(8, 16), code_size=10)
>>> parts.encoder(np.zeros((2, 28, 28), np.uint8)).shape, parts.autoencoder(np.zeros((2, 28, 28), np.uint8)).shape
(TensorShape([2, 10]), TensorShape([2, 28, 28]))
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from zoo.export.signatures import Endpoint, Servable

SIDE = 28


@dataclasses.dataclass
class AutoencoderParts:
    """The encoder (uint8 [N,28,28] → codes), decoder (codes → float [N,28,28] in [0,1]) and both chained."""

    encoder: keras.Model
    decoder: keras.Model
    autoencoder: keras.Model


def build_conv_autoencoder(filters: Sequence[int] = (32, 64), code_size: int = 0) -> AutoencoderParts:
    """Strided conv encoder with one block per entry of ``filters`` (each halves the side, so at most two).

    ``code_size`` 0 keeps the last feature map (7×7×filters[-1]) as the code; otherwise a dense layer
    maps it to ``code_size`` values (and the decoder back).
    """
    if not 1 <= len(filters) <= 2:
        raise ValueError("filters takes one or two conv blocks (28 → 14 → 7 pixels)")
    side = SIDE // 2 ** len(filters)
    images = keras.Input((SIDE, SIDE), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255.0)(keras.layers.Reshape((SIDE, SIDE, 1))(images))
    for width in filters:
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    if code_size:
        x = keras.layers.Dense(code_size, name="code")(keras.layers.Flatten()(x))
    encoder = keras.Model(images, x, name="encoder")

    codes = keras.Input(encoder.output.shape[1:], name="codes")
    y = codes
    if code_size:
        y = keras.layers.Dense(side * side * filters[-1], activation="relu")(y)
        y = keras.layers.Reshape((side, side, filters[-1]))(y)
    for width in reversed(filters):
        y = keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same", activation="relu")(y)
    y = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(y)
    decoder = keras.Model(codes, keras.layers.Reshape((SIDE, SIDE), name="reconstructions")(y), name="decoder")

    autoencoder = keras.Model(images, decoder(encoder(images)), name="autoencoder")
    return AutoencoderParts(encoder, decoder, autoencoder)


def build_dense_autoencoder(units: Sequence[int] = (500, 500, 2000), code_size: int = 10) -> AutoencoderParts:
    """A fully connected autoencoder: 784 pixels → ReLU layers of ``units`` → a linear code of ``code_size``
    values, and the mirror image back to sigmoid pixels (the DEC/N2D clustering autoencoder is (500, 500, 2000), 10).

    >>> build_dense_autoencoder((16,), 3).encoder(np.zeros((2, 28, 28), np.uint8)).shape
    TensorShape([2, 3])
    """
    if not units or code_size < 1:
        raise ValueError("a dense autoencoder needs at least one hidden layer and a code of at least one value")
    images = keras.Input((SIDE, SIDE), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255.0)(keras.layers.Flatten()(images))
    for width in units:
        x = keras.layers.Dense(width, activation="relu")(x)
    encoder = keras.Model(images, keras.layers.Dense(code_size, name="code")(x), name="encoder")

    codes = keras.Input((code_size,), name="codes")
    y = codes
    for width in reversed(units):
        y = keras.layers.Dense(width, activation="relu")(y)
    y = keras.layers.Dense(SIDE * SIDE, activation="sigmoid")(y)
    decoder = keras.Model(codes, keras.layers.Reshape((SIDE, SIDE), name="reconstructions")(y), name="decoder")
    return AutoencoderParts(encoder, decoder, keras.Model(images, decoder(encoder(images)), name="autoencoder"))


def autoencoder_servable(encoder: keras.Model, decoder: keras.Model, warmup_images: np.ndarray) -> Servable:
    """``serving_default`` (``images`` → ``reconstructions``), ``encode`` (→ ``codes``), ``decode`` (``codes`` →).

    ``decode`` returns ``reconstructions`` (float pixel probabilities) and ``images`` (them as uint8).
    """
    image_spec = tf.TensorSpec([None, SIDE, SIDE], tf.uint8, name="images")
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
        },
    )
