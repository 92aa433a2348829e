"""Nearest-centroid assignment as a pure TensorFlow graph that reproduces scikit-learn ``KMeans.predict``.

Squared distances are ``|x|² - 2 x·c + |c|²`` in float64 (the features are cast up), the expansion scikit-learn
uses too, so the argmin agrees with its float64 ``predict`` on features the same function produced.

Example:

>>> import numpy as np
>>> assign = NearestCentroid(np.array([[0.0, 0.0], [10.0, 0.0]]))
>>> out = assign(np.array([[1.0, 0.0], [9.0, 1.0]], np.float32))
>>> out["cluster"].numpy().tolist(), [round(float(d), 3) for d in out["distances"][1]]
([0, 1], [9.055, 1.414])
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class NearestCentroid(tf.Module):
    """Features [N, D] → ``cluster`` int64 [N] (nearest centroid) and Euclidean ``distances`` float32 [N, k]."""

    def __init__(self, centroids: np.ndarray) -> None:
        super().__init__(name="nearest_centroid")
        self.centroids = tf.Variable(np.asarray(centroids, np.float64), trainable=False, name="centroids")

    def __call__(self, features) -> dict[str, tf.Tensor]:
        features = tf.cast(tf.reshape(features, [tf.shape(features)[0], -1]), tf.float64)
        squared = (tf.reduce_sum(tf.square(features), axis=1, keepdims=True)
                   - 2.0 * tf.matmul(features, self.centroids, transpose_b=True)
                   + tf.reduce_sum(tf.square(self.centroids), axis=1)[None, :])
        squared = tf.maximum(squared, 0.0)
        return {"cluster": tf.argmin(squared, axis=1, output_type=tf.int64),
                "distances": tf.cast(tf.sqrt(squared), tf.float32)}
