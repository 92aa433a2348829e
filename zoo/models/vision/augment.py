"""Image augmentation for ``tf.data`` pipelines: one affine warp per batch (rotation + translation).

A single ``ImageProjectiveTransformV3`` op does both, which is much cheaper on a CPU than chaining
Keras' ``RandomRotation`` and ``RandomTranslation`` layers. The shift is a fraction of the image's side, so one
setting suits images of any size (0.07 is 2 pixels of a 28-pixel digit, 4.5 of a 64-pixel photo); rotation and
translation suit digits, photos and drawings alike, where a mirror image (a flipped 2 or a flipped text) may not.

Example:

>>> import tensorflow as tf
>>> images = tf.zeros([4, 28, 28, 1])
>>> random_affine(images, max_degrees=10.0, max_shift=0.07, seed=tf.constant([1, 2], tf.int64)).shape
TensorShape([4, 28, 28, 1])
"""

from __future__ import annotations

import math

import tensorflow as tf


def random_affine(images: tf.Tensor, max_degrees: float, max_shift: float, seed: tf.Tensor) -> tf.Tensor:
    """Rotate each image by U(-max_degrees, max_degrees) about its centre and shift it by U(-max_shift, max_shift)
    times its width (and height).

    ``images`` is float [batch, height, width, channels]; the border is filled with 0. ``seed`` ([2] ints)
    makes the draw reproducible (stateless random ops).
    """
    if max_degrees <= 0 and max_shift <= 0:
        return images
    shape = tf.shape(images)
    batch = shape[0]
    height = tf.cast(shape[1], tf.float32)
    width = tf.cast(shape[2], tf.float32)
    draws = tf.random.stateless_uniform([3, batch], seed=seed, minval=-1.0, maxval=1.0)
    angle = draws[0] * (max_degrees * math.pi / 180.0)
    dx, dy = draws[1] * max_shift * width, draws[2] * max_shift * height
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


def warp_uint8_images(images: tf.Tensor, max_degrees: float, max_shift: float, seed: tf.Tensor) -> tf.Tensor:
    """:func:`random_affine` on a batch of uint8 [batch, height, width] or [batch, height, width, channels] images,
    rounded back to uint8.

    >>> warp_uint8_images(tf.fill([2, 28, 28], tf.constant(7, tf.uint8)), 0.0, 0.0, tf.constant([1, 2], tf.int64)).dtype
    tf.uint8
    """
    if max_degrees <= 0 and max_shift <= 0:
        return images
    grey = images.shape.rank == 3
    pixels = tf.cast(images, tf.float32)
    warped = random_affine(pixels[..., tf.newaxis] if grey else pixels, max_degrees, max_shift, seed)
    return tf.cast(tf.clip_by_value(tf.round(warped[..., 0] if grey else warped), 0.0, 255.0), tf.uint8)
