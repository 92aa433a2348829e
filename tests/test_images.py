"""Images are decoded once and the same way when read for training and when served as encoded bytes."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from data_support import encoded_with_pillow
from zoo.data.images import decode_batch, read_image_files, to_model_channels

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("kind", ["png", "jpeg", "bmp", "gif"])
def test_every_format_reads_as_it_is_served(tmp_path, kind):
    images = RNG.integers(0, 256, (3, 9, 7, 3), dtype=np.uint8)
    paths = []
    for i, image in enumerate(images):
        path = tmp_path / f"{i}.{kind}"
        path.write_bytes(encoded_with_pillow(image, kind))
        paths.append(path)
    read = read_image_files(paths, None)
    served = decode_batch(tf.constant([p.read_bytes() for p in paths]), read.shape[1:]).numpy()
    assert read.shape[1:] in ((9, 7, 3), (9, 7)) and np.array_equal(read, served)
    if kind in ("png", "bmp"):  # lossless formats keep every pixel
        np.testing.assert_array_equal(read, images)


def test_grey_files_stay_one_channel_and_transparency_is_composited_over_white(tmp_path):
    grey = RNG.integers(0, 256, (9, 7, 1), dtype=np.uint8)
    (tmp_path / "grey.png").write_bytes(tf.io.encode_png(grey).numpy())
    np.testing.assert_array_equal(read_image_files([tmp_path / "grey.png"], None)[0], grey[..., 0])
    rgba = RNG.integers(0, 256, (9, 7, 4), dtype=np.uint8)
    rgba[0, 0, 3], rgba[0, 1, 3] = 255, 0  # one opaque pixel, one transparent
    (tmp_path / "rgba.png").write_bytes(tf.io.encode_png(rgba).numpy())
    read = read_image_files([tmp_path / "rgba.png"], None)[0].astype(np.float64)
    alpha = rgba[..., 3:] / 255.0
    np.testing.assert_allclose(read, rgba[..., :3] * alpha + 255.0 * (1.0 - alpha), atol=0.5)
    assert read[0, 0].tolist() == rgba[0, 0, :3].tolist() and read[0, 1].tolist() == [255, 255, 255]
    glyph = np.zeros((9, 7, 2), np.uint8)  # grey + alpha: the shape is in the alpha only, as in symbolic icons
    glyph[..., 0], glyph[2:5, 2:5, 1] = 190, 255
    (tmp_path / "glyph.png").write_bytes(tf.io.encode_png(glyph).numpy())
    shape = read_image_files([tmp_path / "glyph.png"], None)[0]
    assert shape.ndim == 2 and set(np.unique(shape).tolist()) == {190, 255}


def test_a_served_image_of_another_size_is_resized_as_training_images_were(tmp_path):
    big = RNG.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    (tmp_path / "big.png").write_bytes(tf.io.encode_png(big).numpy())
    read = read_image_files([tmp_path / "big.png"], (20, 15))
    served = decode_batch(tf.constant([(tmp_path / "big.png").read_bytes()]), (20, 15, 3)).numpy()
    assert read.shape == (1, 20, 15, 3) and np.array_equal(read, served)


def test_colour_sent_to_a_grey_model_is_its_luminance_and_grey_is_unchanged():
    grey = tf.constant(np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=-1))
    np.testing.assert_array_equal(to_model_channels(grey, 1).numpy(), grey.numpy()[..., 0])
    red = tf.constant(np.array([[[255, 0, 0]]], np.uint8))
    assert to_model_channels(red, 1).numpy().tolist() == [[76]]
