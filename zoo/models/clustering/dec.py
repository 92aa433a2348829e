"""DEC/IDEC refinement: sharpen an encoder's codes into clusters with a self-training KL loss.

Deep Embedded Clustering (Xie et al., 2016) soft-assigns each code ``z`` to centroids ``mu`` with a Student's
t kernel, ``q_ij ∝ (1 + |z_i - mu_j|²)^-1``, and trains the encoder and centroids towards the sharpened target
``p_ij ∝ q_ij² / sum_i q_ij``, recomputed once per epoch. IDEC (Guo et al., 2017) keeps the decoder's
reconstruction loss alongside (weight 1 vs ``gamma`` for the KL term) so the codes keep describing the images.

Example:

>>> import numpy as np
>>> q = np.array([[0.6, 0.4], [0.5, 0.5]])
>>> target_distribution(q).round(3).tolist()
[[0.648, 0.352], [0.45, 0.55]]
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf


class SoftAssignment(keras.layers.Layer):
    """Codes [N, D] → Student's t soft assignments [N, k] to ``k`` trainable centroids (initial values given)."""

    def __init__(self, centroids: np.ndarray, **kwargs) -> None:
        super().__init__(**kwargs)
        self.initial_centroids = np.asarray(centroids, np.float32)
        self.centroids = self.add_weight(
            shape=self.initial_centroids.shape, initializer=keras.initializers.Constant(self.initial_centroids),
            name="centroids",
        )

    def call(self, codes):
        squared = keras.ops.sum(keras.ops.square(codes[:, None, :] - self.centroids[None, :, :]), axis=-1)
        kernel = 1.0 / (1.0 + squared)
        return kernel / keras.ops.sum(kernel, axis=1, keepdims=True)


def target_distribution(q: np.ndarray) -> np.ndarray:
    """DEC's sharpened targets: ``q²`` divided by cluster frequency, rows renormalised."""
    weight = q**2 / q.sum(axis=0)
    return weight / weight.sum(axis=1, keepdims=True)


def refine(
    encoder: keras.Model,
    decoder: keras.Model,
    images: np.ndarray,
    centroids: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    gamma: float,
    augment: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    seed: int,
    jit_compile: bool = False,
    verbose: int | str = 0,
) -> np.ndarray:
    """Train ``encoder`` (and ``decoder``) in place with IDEC's loss; return the refined centroids.

    ``images`` are uint8 [N, H, W] or [N, H, W, 3]; ``augment(images, seed=...)`` transforms a batch of them
    (identity is fine).
    The targets ``p`` come from the un-augmented images; the reconstruction target is the augmented input.
    """
    assign = SoftAssignment(centroids, name="soft_assignment")
    inputs = encoder.input
    codes = encoder(inputs)
    model = keras.Model(inputs, [decoder(codes), assign(codes)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=[keras.losses.BinaryCrossentropy(), keras.losses.KLDivergence()],
        loss_weights=[1.0, gamma],
        jit_compile=jit_compile,
    )
    seeds = tf.data.Dataset.random(seed=seed).batch(2)

    def augmented(batch, batch_seed):
        images, p = batch
        images = augment(images, seed=batch_seed)
        return images, (tf.cast(images, tf.float32) / 255.0, p)

    for epoch in range(epochs):
        q = keras.ops.convert_to_numpy(assign(encoder.predict(images, batch_size=1024, verbose=0)))
        p = target_distribution(q.astype(np.float64)).astype(np.float32)
        data = (
            tf.data.Dataset.from_tensor_slices((images, p))
            .shuffle(len(images), seed=seed + epoch)
            .batch(batch_size)
        )
        data = tf.data.Dataset.zip(data, seeds).map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
        model.fit(data.prefetch(tf.data.AUTOTUNE), epochs=1, verbose=verbose)
    return keras.ops.convert_to_numpy(assign.centroids)

