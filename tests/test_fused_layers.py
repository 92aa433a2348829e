"""zoo.export.fused_layers: inside ``fused_layers``, Dense, projection EinsumDense and LayerNormalization layers
compute what they computed before (float32 and under the bfloat16 policy), in a graph that TensorFlow's loader
(TF Serving's path) runs as oneDNN's fused kernels; layers it does not cover keep their own call, and every layer
has its own call back when the block ends, even after an error."""

from __future__ import annotations

import collections
import contextlib
import warnings

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.util import _pywrap_util_port

from zoo.activations import fusable_form, gelu_erf, gelu_tanh
from zoo.export.fused_layers import fused_call, fused_layers, projection_rank
from zoo.export.precision import BFLOAT16, computing_in, in_float32
from zoo.export.session import SessionModel

RNG = np.random.default_rng(7)
ACTIVATIONS = [None, "relu", "gelu", gelu_erf, gelu_tanh, keras_hub.src.utils.keras_utils.gelu_approximate, "silu"]


def inputs(*shape):
    return RNG.normal(size=shape).astype("float32")


def fused_and_plain(layer, x):
    """``layer(x)`` inside and outside the block, and whether the block left the class's call in place."""
    plain = np.asarray(layer(x))
    with fused_layers([layer]):
        fused = np.asarray(layer(x))
    return fused, plain, "call" not in vars(layer)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=lambda a: getattr(a, "__name__", str(a)))
@pytest.mark.parametrize("shape", [(3, 8), (2, 5, 8), (2, 3, 4, 8)])
def test_a_dense_layer_computes_the_same_in_the_fused_form(activation, shape):
    layer = keras.layers.Dense(6, activation=activation)
    fused, plain, restored = fused_and_plain(layer, inputs(*shape))
    assert fused.shape == plain.shape == shape[:-1] + (6,)
    np.testing.assert_allclose(fused, plain, atol=2e-6)
    assert restored


@pytest.mark.parametrize("equation, output_shape, bias_axes, input_shape", [
    ("abc,cde->abde", (None, 2, 3), "de", (2, 5, 4)),  # attention's query, key and value projections
    ("abcd,cde->abe", (None, 4), "e", (2, 5, 2, 3)),  # its output projection
    ("...b,bc->...c", 5, "c", (2, 3, 4)),
    ("abc,cd->abd", (None, 6), None, (2, 5, 4)),
])
def test_a_projection_einsum_dense_computes_the_same_in_the_fused_form(equation, output_shape, bias_axes,
                                                                        input_shape):
    layer = keras.layers.EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes, activation="gelu")
    layer.build(input_shape)
    assert fused_call(layer) is not None
    fused, plain, restored = fused_and_plain(layer, inputs(*input_shape))
    assert fused.shape == plain.shape
    np.testing.assert_allclose(fused, plain, atol=2e-6)
    assert restored


@pytest.mark.parametrize("epsilon", [1e-12, 1e-3])
@pytest.mark.parametrize("shape", [(4, 16), (2, 5, 16)])
def test_a_layer_normalization_computes_the_same_in_the_fused_form(epsilon, shape):
    layer = keras.layers.LayerNormalization(epsilon=epsilon)
    layer.build(shape)
    layer.gamma.assign(inputs(16))
    layer.beta.assign(inputs(16))
    fused, plain, restored = fused_and_plain(layer, inputs(*shape) * 5 + 3)
    np.testing.assert_allclose(fused, plain, atol=2e-5)
    assert restored


def test_layers_it_does_not_cover_keep_their_own_call():
    einsum_bias_on_one_axis = keras.layers.EinsumDense("abc,cde->abde", output_shape=(None, 2, 3), bias_axes="e")
    einsum_bias_on_one_axis.build((2, 5, 4))
    lora = keras.layers.Dense(4)
    lora.build((3, 8))
    lora.enable_lora(2)
    with warnings.catch_warnings():  # Keras deprecates rms_scaling; a saved model may still have it
        warnings.simplefilter("ignore", UserWarning)
        rms = keras.layers.LayerNormalization(rms_scaling=True)
    two_axes = keras.layers.LayerNormalization(axis=(-2, -1))
    no_offset = keras.layers.LayerNormalization(center=False)
    subclassed = type("MyDense", (keras.layers.Dense,), {})(4)
    for layer in (einsum_bias_on_one_axis, lora, rms, two_axes, no_offset, subclassed, keras.layers.Conv1D(2, 3)):
        assert fused_call(layer) is None, layer
    assert projection_rank("abc,dc->abd") is None


def test_the_layer_normalization_over_another_axis_computes_as_keras_does():
    layer = keras.layers.LayerNormalization(axis=1)
    x = inputs(2, 5, 16)
    fused, plain, _ = fused_and_plain(layer, x)
    np.testing.assert_allclose(fused, plain, atol=2e-5)


def test_every_layer_gets_its_own_call_back_after_an_error():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), keras.layers.LayerNormalization()])
    with pytest.raises(RuntimeError), fused_layers([model]):
        assert all("call" in vars(layer) for layer in model.layers)
        raise RuntimeError("export failed")
    assert not any("call" in vars(layer) for layer in model.layers)


def test_under_the_bfloat16_policy_the_activation_is_still_fused_and_close_to_float32():
    assert fusable_form(in_float32(gelu_erf)) is fusable_form(gelu_erf) is not None
    layer = keras.layers.Dense(32, activation=gelu_erf)
    x = inputs(2, 7, 16)
    reference = np.asarray(layer(x))
    with computing_in(BFLOAT16, [layer]), fused_layers([layer]):
        low = layer(x)
    assert low.dtype == tf.bfloat16
    np.testing.assert_allclose(np.asarray(tf.cast(low, tf.float32)), reference, atol=0.05, rtol=0.02)


def encoder_block():
    """A tiny KerasHub transformer encoder block (the layer BERT and ELECTRA stack), exact GELU, padding mask."""
    tokens = keras.Input((None, 16))
    mask = keras.Input((None,), dtype="bool")
    block = keras_hub.layers.TransformerEncoder(intermediate_dim=32, num_heads=2, activation=gelu_erf,
                                                layer_norm_epsilon=1e-12)
    return keras.Model([tokens, mask], block(tokens, padding_mask=mask))


def executed_op_types(version_dir, feeds):
    """The op types one traced call of ``serving_default`` ran, loaded as TF Serving loads it."""
    with SessionModel(version_dir) as model:
        signature = model.signature_defs["serving_default"]
        fetches = {name: tensor.name for name, tensor in signature.outputs.items()}
        feed_dict = {signature.inputs[name].name: value for name, value in feeds.items()}
        metadata = tf.compat.v1.RunMetadata()
        outputs = model.session.run(fetches, feed_dict, run_metadata=metadata,
                                    options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE))
    kinds = collections.Counter(node.timeline_label.split(" = ", 1)[1].split("(", 1)[0]
                                for device in metadata.step_stats.dev_stats for node in device.node_stats
                                if " = " in node.timeline_label)
    return kinds, outputs


@pytest.mark.skipif(not _pywrap_util_port.IsMklEnabled(), reason="this TensorFlow build has no oneDNN remapper")
@pytest.mark.parametrize("precision, tolerance", [("float32", 1e-5), (BFLOAT16, 0.1)])
def test_an_exported_encoder_block_runs_fused_kernels_and_matches_keras(tmp_path, precision, tolerance):
    model = encoder_block()
    x, mask = inputs(2, 6, 16), np.array([[True] * 6, [True] * 4 + [False] * 2])
    plain = np.asarray(model([x, mask]))
    archive = keras.export.ExportArchive()  # as zoo.export.saved_model saves every recipe's signatures
    archive.track(model)
    low = computing_in(precision, [model]) if precision == BFLOAT16 else contextlib.nullcontext()
    with low, fused_layers([model]):
        archive.add_endpoint("serving_default",
                             lambda tokens, padding: {"out": tf.cast(model([tokens, padding]), tf.float32)},
                             input_signature=[tf.TensorSpec([None, None, 16], tf.float32, name="tokens"),
                                              tf.TensorSpec([None, None], tf.bool, name="padding")])
        archive.write_out(str(tmp_path), verbose=False)
    kinds, outputs = executed_op_types(tmp_path, {"tokens": x, "padding": mask})
    np.testing.assert_allclose(outputs["out"], plain, atol=tolerance)
    # q, k, v, output projection and both feed-forward layers: one fused matmul each, bias and GELU inside
    assert kinds["_MklNativeFusedMatMul"] == 6, kinds
    assert kinds["_MklLayerNorm"] == 2, kinds
    # the attention's two products of activations (scores, weighted values) stay einsums, not the projections
    assert kinds["_MklEinsum"] + kinds["Einsum"] + kinds["_MklBatchMatMulV2"] + kinds["BatchMatMulV2"] == 2, kinds
    unfused = {"Erf", "Erfc", "BiasAdd", "SquaredDifference", "Rsqrt", "FusedBatchNormV3", "_MklFusedBatchNormV3",
               "_MklNativeFusedBatchNormV3"} & set(kinds)
    assert not unfused, kinds
