"""Images: decoding PNG, JPEG, GIF and BMP files, resizing, and the one pixel layout every image recipe trains on.

One set of TensorFlow ops does it when the data is read and inside every exported ``image_bytes`` signature, so a
served image becomes exactly the pixels a training image of the same bytes became:

- :func:`decode_image`: encoded bytes → uint8 [H, W, 3] (a GIF's first frame; grey replicated; transparency
  composited over white);
- :func:`resize_image`: to ``image_size`` (bilinear with antialiasing, rounded), left alone when already that size;
- a data set whose every image is grey (R = G = B) is kept as one channel, [N, H, W]; otherwise [N, H, W, 3].
  :func:`to_model_channels` makes a served image match: the luminance of a colour image for a grey model,
  which for a grey image is its own value.

Example:

>>> import tensorflow as tf
>>> png = tf.io.encode_png(tf.fill([5, 7, 1], tf.constant(200, tf.uint8)))
>>> decode_image(png).shape, int(decode_image(png)[0, 0, 2])
(TensorShape([5, 7, 3]), 200)
>>> resize_image(decode_image(png), (10, 14)).shape
TensorShape([10, 14, 3])
>>> parse_image_size("32x48"), parse_image_size("64")
((32, 48), (64, 64))
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from zoo.errors import BadDataError, UsageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
_LUMA = (0.2989, 0.5870, 0.1140)  # ITU-R 601, as tf.image.rgb_to_grayscale


def parse_image_size(text: str) -> tuple[int, int] | None:
    """``"HxW"`` (or ``"N"`` for N×N) → ``(H, W)``; ``""`` → None (keep the data's own size)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not match or int(match.group(1)) < 1 or (match.group(2) is not None and int(match.group(2)) < 1):
        raise UsageError(f"image_size={text!r} is not HxW with positive sides (e.g. image_size=64x64)")
    height = int(match.group(1))
    return height, int(match.group(2) or height)


def decode_image(data: tf.Tensor) -> tf.Tensor:
    """Encoded PNG/JPEG/GIF/BMP bytes (a scalar string) → uint8 [H, W, 3]: grey is replicated, and an image with
    an alpha channel is composited over white (an icon or a logo may keep its whole shape in its alpha, over one
    flat colour: dropping the alpha would leave a blank square).

    >>> icon = tf.constant([[[190, 190, 190, 255], [190, 190, 190, 0]]], tf.uint8)   # a grey glyph, transparent around
    >>> decode_image(tf.io.encode_png(icon))[0, :, 0].numpy().tolist()
    [190, 255]
    """
    image = tf.io.decode_image(data, channels=0, expand_animations=False, dtype=tf.uint8)  # 1 to 4 channels
    channels = tf.shape(image)[-1]
    colour = tf.cond(channels >= 3, lambda: image[..., :3], lambda: tf.tile(image[..., :1], [1, 1, 3]))
    opaque = tf.fill(tf.shape(image[..., :1]), tf.constant(255, tf.uint8))
    alpha = tf.cond(tf.equal(channels % 2, 0), lambda: image[..., -1:], lambda: opaque)
    weight = tf.cast(alpha, tf.float32) / 255.0
    over_white = tf.cast(colour, tf.float32) * weight + 255.0 * (1.0 - weight)
    return tf.cast(tf.clip_by_value(tf.round(over_white), 0.0, 255.0), tf.uint8)


def resize_image(image: tf.Tensor, size: tuple[int, int] | None) -> tf.Tensor:
    """uint8 [H, W, C] → uint8 [size..., C]: bilinear with antialiasing, rounded; unchanged when already ``size``."""
    if size is None:
        return image

    def resized():
        scaled = tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(scaled), 0.0, 255.0), tf.uint8)

    if image.shape[:2].is_fully_defined():
        return image if tuple(image.shape[:2]) == tuple(size) else resized()
    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.constant(size)))
    return tf.cond(same, lambda: tf.ensure_shape(image, [*size, None]), resized)


def to_model_channels(images: tf.Tensor, channels: int) -> tf.Tensor:
    """uint8 [..., 3] → what a model of ``channels`` (1: [...] without a channel axis; 3: as is) takes."""
    if channels == 3:
        return images
    luma = tf.tensordot(tf.cast(images, tf.float32), tf.constant(_LUMA), axes=[[-1], [0]])
    return tf.cast(tf.clip_by_value(tf.round(luma), 0.0, 255.0), tf.uint8)


def decode_batch(encoded: tf.Tensor, image_shape: Sequence[int]) -> tf.Tensor:
    """Encoded images [N] → uint8 [N, *image_shape] (``(H, W)`` grey or ``(H, W, 3)``), each resized to it: what
    an ``image_bytes`` signature feeds its model."""
    height, width = image_shape[:2]
    channels = image_shape[2] if len(image_shape) == 3 else 1

    def one(data):
        return to_model_channels(resize_image(decode_image(data), (height, width)), channels)

    spec = tf.TensorSpec(tuple(image_shape), tf.uint8)
    return tf.map_fn(one, encoded, fn_output_signature=spec)


def read_image_files(paths: Sequence[Path], image_size: tuple[int, int] | None) -> np.ndarray:
    """Decode ``paths`` (in order, in parallel) into one uint8 array: [N, H, W] when every image is grey, else
    [N, H, W, 3]. Without ``image_size`` every image must have the same size."""
    names = tf.constant([str(p) for p in paths])
    images = tf.data.Dataset.from_tensor_slices(names).map(
        lambda path: resize_image(decode_image(tf.io.read_file(path)), image_size),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    out: np.ndarray | None = None
    count = 0
    try:
        for image in images.as_numpy_iterator():
            if out is None:
                out = np.empty((len(paths), *image.shape), np.uint8)
            elif image.shape != out.shape[1:]:
                raise BadDataError(
                    f"images differ in size: {paths[0]} is {_size(out.shape[1:])}, {paths[count]} "
                    f"is {_size(image.shape)}; set image_size=HxW (e.g. image_size={_size(out.shape[1:])}) to resize "
                    "them all")
            out[count] = image
            count += 1
    except tf.errors.OpError as exc:
        reason = exc.message.splitlines()[0] if exc.message else type(exc).__name__
        raise BadDataError(f"{paths[count]} is not an image TensorFlow can decode (PNG, JPEG, GIF or BMP): "
                           f"{reason}") from None
    return grey_if_possible(out)


def _size(shape: Sequence[int]) -> str:
    return f"{shape[0]}x{shape[1]}"


def grey_if_possible(images: np.ndarray) -> np.ndarray:
    """[N, H, W, 3] → [N, H, W] when every pixel has R = G = B; otherwise unchanged."""
    if np.array_equal(images[..., 0], images[..., 1]) and np.array_equal(images[..., 1], images[..., 2]):
        return np.ascontiguousarray(images[..., 0])
    return images


def image_array(x: np.ndarray, image_size: tuple[int, int] | None, where: str) -> np.ndarray:
    """Images already decoded (an ``.npz`` ``x``, a tfds feature) in the same layout as :func:`read_image_files`:
    uint8 [N, H, W] or [N, H, W, C] with C 1 or 3, resized to ``image_size`` when given."""
    if x.dtype != np.uint8:
        raise BadDataError(f"{where}: images must be uint8 pixels 0-255, not {x.dtype}")
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] == 3)):
        raise BadDataError(f"{where}: images must be [N, H, W] or [N, H, W, C] with C 1 or 3, not shape {x.shape}")
    if image_size is None or x.shape[1:3] == image_size:
        return x
    colour = x if x.ndim == 4 else x[..., np.newaxis]
    resized = tf.data.Dataset.from_tensor_slices(colour).map(lambda image: resize_image(image, image_size)).batch(1024)
    out = np.concatenate(list(resized.as_numpy_iterator()))
    return out if x.ndim == 4 else out[..., 0]
