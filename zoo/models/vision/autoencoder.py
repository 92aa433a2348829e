"""Image autoencoders: uint8 images in, pixel probabilities out.

Shared by the ``autoencoder`` recipe and the ``kmeans`` recipe (which clusters the codes). Images are [H, W]
(grey) or [H, W, 3] (colour), of any size. The convolutional one's encoder is strided 3×3 convolutions, one or
two, each halving the side (MNIST: 28→14→7; a side that does not halve evenly is zero-padded first and the
reconstruction cropped back), optionally flattened into a dense code of ``code_size`` values; its decoder
mirrors it with transposed convolutions and ends in a sigmoid. The dense one (:func:`build_dense_autoencoder`)
is the fully connected stack clustering papers use.

Example:

>>> import numpy as np
>>> parts = build_conv_autoencoder((28, 28), filters=(8, 16), code_size=10)
>>> parts.encoder(np.zeros((2, 28, 28), np.uint8)).shape, parts.autoencoder(np.zeros((2, 28, 28), np.uint8)).shape
(TensorShape([2, 10]), TensorShape([2, 28, 28]))
>>> build_conv_autoencoder((30, 45, 3), filters=(8,)).autoencoder(np.zeros((1, 30, 45, 3), np.uint8)).shape
TensorShape([1, 30, 45, 3])
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import keras
import numpy as np


@dataclasses.dataclass
class AutoencoderParts:
    """The encoder (uint8 images → codes), decoder (codes → float images in [0, 1]) and both chained."""

    encoder: keras.Model
    decoder: keras.Model
    autoencoder: keras.Model


def _channels(image_shape: Sequence[int]) -> int:
    return image_shape[2] if len(image_shape) == 3 else 1


def build_conv_autoencoder(image_shape: Sequence[int], filters: Sequence[int] = (32, 64),
                           code_size: int = 0) -> AutoencoderParts:
    """Strided conv encoder with one block per entry of ``filters`` (each halves the side, so at most two).

    ``code_size`` 0 keeps the last feature map (e.g. 7×7×filters[-1]) as the code; otherwise a dense layer
    maps it to ``code_size`` values (and the decoder back).
    """
    if not 1 <= len(filters) <= 2:
        raise ValueError("filters takes one or two conv blocks (each halves the side: 28 → 14 → 7 pixels)")
    height, width = image_shape[:2]
    channels, scale = _channels(image_shape), 2 ** len(filters)
    padded = (math.ceil(height / scale) * scale, math.ceil(width / scale) * scale)
    coded = (padded[0] // scale, padded[1] // scale)
    images = keras.Input(tuple(image_shape), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255.0)(keras.layers.Reshape((height, width, channels))(images))
    x = keras.layers.ZeroPadding2D(((0, padded[0] - height), (0, padded[1] - width)))(x)
    for filters_in_block in filters:
        x = keras.layers.Conv2D(filters_in_block, 3, strides=2, padding="same", activation="relu")(x)
    if code_size:
        x = keras.layers.Dense(code_size, name="code")(keras.layers.Flatten()(x))
    encoder = keras.Model(images, x, name="encoder")

    codes = keras.Input(encoder.output.shape[1:], name="codes")
    y = codes
    if code_size:
        y = keras.layers.Dense(coded[0] * coded[1] * filters[-1], activation="relu")(y)
        y = keras.layers.Reshape((*coded, filters[-1]))(y)
    for filters_in_block in reversed(filters):
        y = keras.layers.Conv2DTranspose(filters_in_block, 3, strides=2, padding="same", activation="relu")(y)
    y = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid")(y)
    y = keras.layers.Cropping2D(((0, padded[0] - height), (0, padded[1] - width)))(y)
    decoder = keras.Model(codes, keras.layers.Reshape(tuple(image_shape), name="reconstructions")(y), name="decoder")

    autoencoder = keras.Model(images, decoder(encoder(images)), name="autoencoder")
    return AutoencoderParts(encoder, decoder, autoencoder)


def build_dense_autoencoder(image_shape: Sequence[int], units: Sequence[int] = (500, 500, 2000),
                            code_size: int = 10) -> AutoencoderParts:
    """A fully connected autoencoder: the pixels → ReLU layers of ``units`` → a linear code of ``code_size``
    values, and the mirror image back to sigmoid pixels (the DEC/N2D clustering autoencoder is (500, 500, 2000), 10).

    >>> build_dense_autoencoder((28, 28), (16,), 3).encoder(np.zeros((2, 28, 28), np.uint8)).shape
    TensorShape([2, 3])
    """
    if not units or code_size < 1:
        raise ValueError("a dense autoencoder needs at least one hidden layer and a code of at least one value")
    images = keras.Input(tuple(image_shape), dtype="uint8", name="images")
    x = keras.layers.Rescaling(1.0 / 255.0)(keras.layers.Flatten()(images))
    for width in units:
        x = keras.layers.Dense(width, activation="relu")(x)
    encoder = keras.Model(images, keras.layers.Dense(code_size, name="code")(x), name="encoder")

    codes = keras.Input((code_size,), name="codes")
    y = codes
    for width in reversed(units):
        y = keras.layers.Dense(width, activation="relu")(y)
    y = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid")(y)
    decoder = keras.Model(codes, keras.layers.Reshape(tuple(image_shape), name="reconstructions")(y), name="decoder")
    return AutoencoderParts(encoder, decoder, keras.Model(images, decoder(encoder(images)), name="autoencoder"))
