"""The activations the zoo's models use, and the TensorFlow op that computes each where oneDNN can fuse it.

TensorFlow's graph optimizer (grappler's remapper, in TensorFlow's oneDNN CPU build) folds a ``MatMul`` followed by
``BiasAdd`` and an activation into one fused matrix product when the activation is written as TensorFlow writes it
(``tf.nn.relu``; ``tf.nn.gelu``, exact or tanh). Keras writes GELU its own way, and the zoo writes the exact one as
:func:`gelu_erf`, so :func:`fusable_form` maps each known activation to TensorFlow's op with the same formula;
:mod:`zoo.export.fused_layers` uses it when it traces a model for export.

>>> x = tf.constant([-3.0, -0.5, 0.0, 1.0, 4.0])
>>> float(tf.reduce_max(tf.abs(fusable_form(gelu_erf)(x) - gelu_erf(x)))) < 1e-6
True
>>> fusable_form(keras.activations.silu) is None
True
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import keras
import tensorflow as tf
from keras_hub.src.utils.keras_utils import gelu_approximate  # the tanh GELU KerasHub's BERT, ELECTRA and GPT-2 use

__all__ = ["fusable_form", "gelu_erf", "gelu_tanh"]


def gelu_erf(x):
    """GELU with the exact erf (Hugging Face ``gelu``): ``x/2 · (1 + erf(x/√2))``.

    Written out rather than ``keras.activations.gelu(x, approximate=False)``, whose TensorFlow form is ``x/2 ·
    erfc(-x/√2)``: TensorFlow's CPU ``Erfc`` kernel runs element by element, ``Erf`` on vectors. On a [4096, 1536]
    float32 activation (one MiniLM layer, batch 32 × 128 tokens) it is 7 ms against 12, and the two forms differ by
    float32 rounding (at most 7e-7 there).

    >>> x = keras.ops.convert_to_tensor([-3.0, -0.5, 0.0, 1.0, 4.0])
    >>> bool(keras.ops.max(keras.ops.abs(gelu_erf(x) - keras.activations.gelu(x, approximate=False))) < 1e-6)
    True
    """
    return 0.5 * x * (1.0 + keras.ops.erf(x * 0.7071067811865476))


def gelu_tanh(x):
    """GELU's tanh approximation (Hugging Face ``gelu_new``, ``gelu_pytorch_tanh``)."""
    return keras.activations.gelu(x, approximate=True)


# Each activation → TensorFlow's op with the same formula, the form the remapper fuses into a matrix product.
FUSABLE: dict[Callable[[Any], Any], Callable[[Any], Any]] = {
    keras.activations.relu: tf.nn.relu,
    keras.activations.gelu: functools.partial(tf.nn.gelu, approximate=False),  # Keras' default is the exact GELU
    gelu_erf: functools.partial(tf.nn.gelu, approximate=False),
    gelu_tanh: functools.partial(tf.nn.gelu, approximate=True),
    gelu_approximate: functools.partial(tf.nn.gelu, approximate=True),
}


def fusable_form(activation: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """TensorFlow's op for ``activation`` (looked up through wrappers that set ``__wrapped__``, such as
    :func:`zoo.export.precision.in_float32`), or None if it has none the remapper fuses."""
    while activation is not None and activation not in FUSABLE and hasattr(activation, "__wrapped__"):
        activation = activation.__wrapped__
    return FUSABLE.get(activation)
