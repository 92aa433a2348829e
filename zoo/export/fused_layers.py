"""Dense, EinsumDense and LayerNormalization layers traced for export in the forms TensorFlow's oneDNN CPU build
runs as one fused kernel each.

TensorFlow's graph optimizer (grappler's remapper) fuses ``MatMul`` → ``BiasAdd`` → activation into one
``_MklNativeFusedMatMul``, and a layer normalization into one ``_MklLayerNorm``, only where the graph spells them as
it expects. Keras 3 spells them otherwise, so in an export of MiniLM each ran as several ops:

- a ``Dense`` layer on a [batch, tokens, features] input is ``tensordot`` (``Reshape``, ``MatMul``, ``Reshape``),
  then an ``AddV2`` of the bias and the activation's elementwise ops (GELU: ``Erf``, ``Mul``, ``AddV2``);
- an ``EinsumDense`` (attention's query, key, value and output projections) is an ``Einsum``;
- a ``LayerNormalization`` is ``Mean``, ``SquaredDifference``, ``Mean``, ``Rsqrt`` and five elementwise ops.

Inside :func:`fused_layers`, every plain ``Dense`` layer and every ``EinsumDense`` whose equation projects its
input's trailing axes computes as its input flattened to rows, ``tf.matmul`` with its kernel flattened to a matrix,
``tf.nn.bias_add``, the activation's :func:`~zoo.activations.fusable_form` (or the activation as it is, after the
reshape back, if it has none); every ``LayerNormalization`` over the last axis as :func:`normalized`. Same weights
and formulas, so the export gate, which runs the exported graph against the in-memory model, checks them as it checks
any export. ``python -m bench.profile VERSION_DIR --signature embed`` shows the ops an export runs.

>>> import numpy as np
>>> layer = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de", activation="relu")
>>> x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
>>> before = layer(x)
>>> with fused_layers([layer]):
...     after = layer(x)
>>> after.shape, bool(np.allclose(before, after, atol=1e-6))
(TensorShape([2, 5, 2, 3]), True)
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterable, Iterator

import keras
import tensorflow as tf

from zoo.activations import fusable_form

__all__ = ["fused_layers", "nested_layers", "projection_rank"]


def nested_layers(models: Iterable[keras.layers.Layer]) -> list[keras.layers.Layer]:
    """Each of ``models`` and every layer inside them, each once (models may share layers)."""
    found: dict[int, keras.layers.Layer] = {}
    for model in models:
        # Keras' own walk over nested layers (Layer has no public one)
        found.update((id(layer), layer) for layer in model._flatten_layers(include_self=True, recursive=True))
    return list(found.values())


def projection_rank(equation: str) -> int | None:
    """How many trailing input axes an ``EinsumDense`` equation contracts, if it is a plain projection (``input
    axes = kept + contracted``, ``kernel axes = contracted + new``, ``output = kept + new``); else None.

    >>> projection_rank("abc,cde->abde"), projection_rank("abcd,cde->abe"), projection_rank("...b,bc->...c")
    (1, 2, 1)
    >>> projection_rank("abc,dc->abd") is None   # the kernel's contracted axis comes last
    True
    """
    inputs, output = equation.replace(" ", "").split("->")
    source, kernel = inputs.split(",")
    for rank in range(1, len(kernel)):
        contracted, new = kernel[:rank], kernel[rank:]
        if "." not in kernel and source.endswith(contracted) and output == source[:-rank] + new:
            return rank
    return None


def projected(inputs, kernel, bias, contracted: int, activation: Callable[[Any], Any] | None):
    """``inputs``' last ``contracted`` axes times ``kernel`` (whose first ``contracted`` axes match them), plus
    ``bias`` (the kernel's other axes' shape, or None), through ``activation``; written as rows × matrix."""
    kernel = tf.cast(keras.ops.convert_to_tensor(kernel), inputs.dtype)
    inner = math.prod(kernel.shape[:contracted])
    new_axes = list(kernel.shape[contracted:])
    rows = tf.matmul(tf.reshape(inputs, [-1, inner]), tf.reshape(kernel, [inner, math.prod(new_axes)]))
    if bias is not None:
        rows = tf.nn.bias_add(rows, tf.reshape(tf.cast(keras.ops.convert_to_tensor(bias), rows.dtype), [-1]))
    fused = fusable_form(activation)
    if fused is not None:
        rows = fused(rows)
    dynamic = tf.shape(inputs)
    kept = [size if size is not None else dynamic[axis] for axis, size in enumerate(inputs.shape[:-contracted])]
    outputs = tf.reshape(rows, kept + new_axes)
    return activation(outputs) if fused is None and activation is not None else outputs


def dense_call(layer: keras.layers.Layer) -> Callable[..., Any] | None:
    """The fused form of a plain ``Dense`` or projection ``EinsumDense`` layer's ``call``, or None for another layer
    (LoRA, quantized, another equation, a bias on some of the new axes only)."""
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        return None
    if type(layer) is keras.layers.Dense:
        contracted = 1
    elif type(layer) is keras.layers.EinsumDense:
        contracted = projection_rank(layer.equation)
        if contracted is None or (layer.bias is not None
                                  and tuple(layer.bias.shape) != tuple(layer.kernel.shape[contracted:])):
            return None
    else:
        return None

    def call(inputs, training=None):
        return projected(inputs, layer.kernel, layer.bias, contracted, layer.activation)

    return call


def normalized(inputs, gamma, beta, epsilon: float):
    """Layer normalization over the last axis written as Keras 2 wrote it, which the remapper fuses into one
    ``_MklLayerNorm``: the rows reshaped to [1, rows, features, 1], a ``FusedBatchNormV3`` over them in training
    mode with unit scale and zero offset (each row's own mean and variance, accumulated in float32 whatever the
    input's dtype), then ``· gamma + beta``. It computes in the input's dtype: a ``Cast`` to float32 before the
    reshape would be moved after it by grappler and break the pattern (a bfloat16 export then ran the unfused
    ``FusedBatchNormV3``, ``Mul`` and ``AddV2``)."""
    shape = tf.shape(inputs)
    rows = tf.reduce_prod(shape[:-1], keepdims=True)
    grid = tf.reshape(inputs, tf.concat([[1], rows, shape[-1:], [1]], axis=0))
    grid, _, _ = tf.compat.v1.nn.fused_batch_norm(grid, tf.fill(rows, 1.0), tf.fill(rows, 0.0), epsilon=epsilon,
                                                  data_format="NCHW")
    return (tf.reshape(grid, shape) * tf.cast(keras.ops.convert_to_tensor(gamma), inputs.dtype)
            + tf.cast(keras.ops.convert_to_tensor(beta), inputs.dtype))


def layer_norm_call(layer: keras.layers.Layer) -> Callable[..., Any] | None:
    """The fused form of a ``LayerNormalization`` over its input's last axis, with scale and offset, or None."""
    if type(layer) is not keras.layers.LayerNormalization or layer.rms_scaling or not (layer.center and layer.scale):
        return None
    axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
    if len(axes) != 1:
        return None

    def call(inputs):
        if axes[0] not in (-1, len(inputs.shape) - 1):
            return type(layer).call(layer, inputs)
        return tf.cast(normalized(inputs, layer.gamma, layer.beta, layer.epsilon), layer.compute_dtype)

    return call


FUSED_CALLS = (dense_call, layer_norm_call)


def fused_call(layer: keras.layers.Layer) -> Callable[..., Any] | None:
    """``layer``'s call in the fused form, or None if it has none."""
    for form in FUSED_CALLS:
        call = form(layer)
        if call is not None:
            return call
    return None


@contextlib.contextmanager
def fused_layers(models: Iterable[keras.layers.Layer]) -> Iterator[None]:
    """Inside the block, the ``Dense``, projection ``EinsumDense`` and ``LayerNormalization`` layers of ``models``
    (nested ones too) compute in the fused form (module docstring); their own ``call`` is back afterwards."""
    swapped = [(layer, call) for layer in nested_layers(models) if (call := fused_call(layer)) is not None]
    try:
        for layer, call in swapped:
            layer.__dict__["call"] = call  # an instance attribute shadows the class's call
        yield
    finally:
        for layer, _ in swapped:
            layer.__dict__.pop("call", None)
