"""Image augmentation for ``tf.data`` pipelines: one affine warp per batch (rotation + translation).

A single ``ImageProjectiveTransformV3`` op does both, which is much cheaper on a CPU than chaining
Keras' ``RandomRotation`` and ``RandomTranslation`` layers.

Example:

>>> import tensorflow as tf
>>> images = tf.zeros([4, 28, 28, 1])
>>> random_affine(images, max_degrees=10.0, max_shift=2.0).shape
TensorShape([4, 28, 28, 1])
"""

from __future__ import annotations

import math

import tensorflow as tf


def random_affine(images: tf.Tensor, max_degrees: float, max_shift: float) -> tf.Tensor:
    """Rotate each image by U(-max_degrees, max_degrees) about its centre and shift it by U(-max_shift, max_shift) px.

    ``images`` is float [batch, height, width, channels]; the border is filled with 0.
    """
    if max_degrees <= 0 and max_shift <= 0:
        return images
    shape = tf.shape(images)
    batch = shape[0]
    height = tf.cast(shape[1], tf.float32)
    width = tf.cast(shape[2], tf.float32)
    angle = tf.random.uniform([batch], -1.0, 1.0) * (max_degrees * math.pi / 180.0)
    dx = tf.random.uniform([batch], -max_shift, max_shift)
    dy = tf.random.uniform([batch], -max_shift, max_shift)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # Output pixel (x, y) samples the input at R(x - c) + c - d: rotation about the centre, then a shift.
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - a0 * cx - a1 * cy - dx
    b2 = cy - b0 * cx - b1 * cy - dy
    zeros = tf.zeros([batch])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
