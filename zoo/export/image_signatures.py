"""Serving signatures for image models (cnn_mnist, autoencoder, kmeans): raw uint8 pixels, or encoded files.

- :func:`image_bytes_endpoint`: ``image_bytes`` (DT_STRING [None]: PNG, JPEG, GIF or BMP files; over REST as
  ``{"b64": ...}``) decoded and resized in the graph (:func:`zoo.data.images.decode_batch`, the ops that read
  the training images), then the same outputs as ``serving_default`` gives for those pixels;
- :func:`image_classifier_servable`: ``serving_default`` (uint8 ``images`` → ``probabilities`` and ``classes``,
  the label names), ``classify`` (TF Serving's ``:classify`` over ``tf.Example`` with an int64 ``images``
  feature of H×W×C pixels) and ``image_bytes``.

Example:

>>> import numpy as np, keras
>>> model = keras.Sequential([keras.Input((4, 4), dtype="uint8"), keras.layers.Flatten(),
...                           keras.layers.Dense(2, activation="softmax")])
>>> servable = image_classifier_servable(model, ("cat", "dog"), np.zeros((2, 4, 4), np.uint8))
>>> sorted(servable.endpoints)
['classify', 'image_bytes', 'serving_default']
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from zoo.data.images import decode_batch
from zoo.export.signatures import Endpoint, Servable, example_classifier, int64_example


def encoded_png(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, H, W] or [N, H, W, C] as PNG files (an object array of bytes)."""
    return np.array([tf.io.encode_png(image[..., np.newaxis] if image.ndim == 2 else image).numpy()
                     for image in images], dtype=object)


def image_bytes_endpoint(fn: Callable[[tf.Tensor], Mapping[str, Any]], image_shape: Sequence[int],
                         warmup_images: np.ndarray) -> Endpoint:
    """``fn`` (uint8 images [N, *image_shape] → outputs) behind encoded image files."""

    def from_files(image_bytes):
        return fn(decode_batch(image_bytes, image_shape))

    return Endpoint(fn=from_files, input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
                    warmup={"image_bytes": encoded_png(warmup_images)})


def image_classifier_servable(model: Callable[..., tf.Tensor], label_names: Sequence[str],
                              warmup_images: np.ndarray) -> Servable:
    """The signatures of a classifier of uint8 images [N, *shape] → probabilities [N, len(label_names)]."""
    image_shape = tuple(warmup_images.shape[1:])
    names = tf.constant(list(label_names))

    def predict(images):
        probabilities = model(images, training=False)
        return {"probabilities": probabilities, "classes": tf.gather(names, tf.argmax(probabilities, axis=-1))}

    def scores(features):
        pixels = tf.cast(tf.clip_by_value(features["images"], 0, 255), tf.uint8)
        return model(tf.reshape(pixels, [-1, *image_shape]), training=False)

    return Servable(
        tracked=[model],
        endpoints={
            "serving_default": Endpoint(
                fn=predict,
                input_signature=[tf.TensorSpec([None, *image_shape], tf.uint8, name="images")],
                warmup={"images": warmup_images},
            ),
            "classify": example_classifier(
                {"images": tf.io.FixedLenFeature([int(np.prod(image_shape))], tf.int64)},
                scores,
                label_names,
                [int64_example(images=image.reshape(-1)) for image in warmup_images[:4]],
            ),
            "image_bytes": image_bytes_endpoint(predict, image_shape, warmup_images),
        },
    )
