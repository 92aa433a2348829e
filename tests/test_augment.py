import numpy as np
import tensorflow as tf

from zoo.models.vision.augment import random_affine


def _square():
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 10:18, 10:18, 0] = 1.0
    return tf.constant(image)


def test_no_augmentation_is_identity():
    image = _square()
    assert random_affine(image, 0.0, 0.0, tf.constant([1, 2], tf.int64)) is image


def test_same_seed_same_warp_different_seed_different_warp():
    image = tf.repeat(_square(), 4, axis=0)
    a = random_affine(image, 15.0, 0.1, tf.constant([1, 2], tf.int64)).numpy()
    b = random_affine(image, 15.0, 0.1, tf.constant([1, 2], tf.int64)).numpy()
    c = random_affine(image, 15.0, 0.1, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


def test_pure_shift_moves_the_mass_within_the_bound():
    image = tf.repeat(_square(), 64, axis=0)
    warped = random_affine(image, 0.0, 2 / 28, tf.constant([5, 6], tf.int64)).numpy()[..., 0]
    ys, xs = np.mgrid[0:28, 0:28]
    centre_x = (warped * xs).sum(axis=(1, 2)) / warped.sum(axis=(1, 2))
    assert np.all(np.abs(centre_x - 13.5) <= 2.0 + 1e-4) and np.std(centre_x) > 0.3
    np.testing.assert_allclose(warped.sum(axis=(1, 2)), 64.0, rtol=1e-4)  # a shift inside the frame keeps the mass
