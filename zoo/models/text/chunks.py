"""Layers that read a long token sequence as consecutive pieces side by side in the batch (one recurrent pass over
each piece, much shorter than one over the whole) and pool what was computed on them.

Example (the ``lstm`` recipe's reader, in small):

>>> import keras
>>> ids = keras.ops.convert_to_tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
>>> pieces = Chunks(2)(ids)
>>> states = keras.ops.expand_dims(keras.ops.cast(pieces, "float32"), -1)
>>> keras.ops.squeeze(Unchunks(4)(states), -1).numpy().tolist()
[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 0.0, 0.0]]
"""

from __future__ import annotations

import keras


class Chunks(keras.layers.Layer):
    """Token ids [batch, chunks * length] → [batch * chunks, length]: each row's consecutive pieces, one per row.

    >>> Chunks(2)(keras.ops.convert_to_tensor([[1, 2, 3, 4], [5, 6, 0, 0]])).numpy().tolist()
    [[1, 2], [3, 4], [5, 6], [0, 0]]
    """

    def __init__(self, length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length = length

    def call(self, ids):
        return keras.ops.reshape(ids, (-1, self.length))

    def compute_output_shape(self, input_shape):
        return (None, self.length)

    def get_config(self):
        return {**super().get_config(), "length": self.length}


class Unchunks(keras.layers.Layer):
    """[batch * chunks, length, features] → [batch, chunks * length, features], the mask likewise: the inverse of
    :class:`Chunks` for what was computed on each piece.

    >>> states = keras.ops.reshape(keras.ops.arange(8.0), (4, 2, 1))
    >>> keras.ops.squeeze(Unchunks(4)(states), -1).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
    """

    def __init__(self, length: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length = length
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return keras.ops.reshape(inputs, (-1, self.length, inputs.shape[-1]))

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else keras.ops.reshape(mask, (-1, self.length))

    def compute_output_shape(self, input_shape):
        return (None, self.length, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "length": self.length}


class MaskedMaxPooling1D(keras.layers.Layer):
    """Max over the unmasked time steps of [batch, time, features] (padding never wins the max)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = keras.ops.where(mask[..., None], inputs, keras.ops.full_like(inputs, -1e9))
        return keras.ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])
