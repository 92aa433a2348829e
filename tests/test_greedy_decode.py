"""greedy_decode equals KerasHub's own greedy generation token for token, and traces with an open batch."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.text.greedy_decode import greedy_decode, keras_hub_greedy

VOCAB, MAX_LENGTH = 60, 6


@pytest.fixture(scope="module")
def lm():
    """A tiny T5 with weights scaled up so its greedy output depends on the input (fresh init is near-constant)."""
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.T5Backbone(vocabulary_size=VOCAB, num_layers=1, num_heads=2, hidden_dim=32,
                                           intermediate_dim=64, dropout=0.0)
    model = keras_hub.models.T5Seq2SeqLM(backbone)
    rng = np.random.default_rng(5)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 1.0, weight.shape).astype("float32"))
    model.compile(sampler="greedy")
    return model


@pytest.fixture(scope="module")
def decode(lm):
    """greedy_decode traced once with the batch and sequence dimensions open (and eos as an input)."""
    return tf.function(lambda ids, mask, eos: greedy_decode(lm, ids, mask, MAX_LENGTH, eos_id=eos),
                       input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([], tf.int32)])


def encoder_batch(batch, seed=0, length=9):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, length + 1, batch)
    mask = (np.arange(length)[None] < lengths[:, None]).astype("int32")
    return rng.integers(3, VOCAB, (batch, length)).astype("int32") * mask, mask


@pytest.mark.parametrize("batch", [1, 7])
def test_traced_decode_equals_keras_hub_generate_with_early_stopping_rows(lm, decode, batch):
    ids, mask = encoder_batch(batch)
    unstopped = decode(ids, mask, VOCAB + 1).numpy()
    assert len({tuple(row) for row in unstopped}) == batch  # the rows really differ
    stop = int(unstopped[0, 1])  # a token row 0 emits second: some rows stop early, others run to max_length
    ours = decode(ids, mask, stop).numpy()
    np.testing.assert_array_equal(ours, keras_hub_greedy(lm, ids, mask, MAX_LENGTH, stop))
    assert ours[0, 1] == stop and (ours[0, 2:] == 0).all()


def test_traced_with_open_batch_equals_eager(lm, decode):
    assert decode.get_concrete_function().structured_outputs.shape.as_list() == [None, MAX_LENGTH]
    ids, mask = encoder_batch(7, seed=7)
    eager = greedy_decode(lm, tf.constant(ids), tf.constant(mask), MAX_LENGTH, eos_id=3)
    np.testing.assert_array_equal(decode(ids, mask, 3).numpy(), eager.numpy())


def test_max_length_must_be_positive(lm):
    ids, mask = encoder_batch(1)
    with pytest.raises(ValueError, match="max_length"):
        greedy_decode(lm, tf.constant(ids), tf.constant(mask), 0)
