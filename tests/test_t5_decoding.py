"""T5 decoding: greedy equals KerasHub's own greedy generation token for token and traces with an open batch; the key/value
cache gives the recomputing decoder's tokens in every mode (beam search reorders it); bad options are refused."""

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.text.decoding import GenerationOptions
from zoo.models.text.t5_decoding import keras_hub_greedy, t5_generate, t5_greedy

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
    """t5_greedy traced once with the batch and sequence dimensions open (and eos as an input)."""
    return tf.function(lambda ids, mask, eos: t5_greedy(lm, ids, mask, MAX_LENGTH, eos_id=eos),
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
    eager = t5_greedy(lm, tf.constant(ids), tf.constant(mask), MAX_LENGTH, eos_id=3)
    np.testing.assert_array_equal(decode(ids, mask, 3).numpy(), eager.numpy())


def test_bound_must_be_positive(lm):
    ids, mask = encoder_batch(1)
    with pytest.raises(ValueError, match="bound"):
        t5_greedy(lm, tf.constant(ids), tf.constant(mask), 0)


@pytest.mark.parametrize("options", [dict(num_beams=3, num_return_sequences=3), dict(do_sample=True, top_p=0.8, seed=1,
                                                                                     num_return_sequences=2)])
def test_cached_decoding_equals_recomputing_decoding_in_every_mode(lm, options):
    ids, mask = encoder_batch(4, seed=3)
    options = GenerationOptions(max_new_tokens=MAX_LENGTH, **options)
    cached, recomputed = (t5_generate(lm, tf.constant(ids), tf.constant(mask), options, MAX_LENGTH, eos_id=3,
                                      cache=cache) for cache in (True, False))
    np.testing.assert_array_equal(cached[0].numpy(), recomputed[0].numpy())
    np.testing.assert_allclose(cached[1].numpy(), recomputed[1].numpy(), atol=1e-5)
    assert len({tuple(row) for row in cached[0].numpy().reshape(-1, MAX_LENGTH)}) > 4  # the hypotheses differ


@pytest.mark.parametrize("options, reason", [
    (dict(num_beams=0), "num_beams must be in \\[1, 16\\]"),
    (dict(num_beams=17), "num_beams must be in"),
    (dict(max_new_tokens=MAX_LENGTH + 1), "max_new_tokens must be in \\[1, 6\\]"),
    (dict(max_new_tokens=0), "max_new_tokens must be in"),
    (dict(num_beams=2, num_return_sequences=3), "num_return_sequences must be at most num_beams"),
    (dict(num_return_sequences=2), "greedy search returns one sequence"),
    (dict(do_sample=True, num_beams=2), "beam sampling"),
    (dict(do_sample=True, temperature=0.0), "temperature must be above 0"),
    (dict(do_sample=True, temperature=float("nan")), "temperature must be above 0"),
    (dict(top_p=0.0), "top_p must be in \\(0, 1\\]"),
    (dict(top_p=1.5), "top_p must be in"),
    (dict(top_k=-1), "top_k must be 0"),
])
def test_bad_options_are_refused_with_their_reason(lm, options, reason):
    ids, mask = encoder_batch(2)
    decode = tf.function(lambda: t5_generate(lm, tf.constant(ids), tf.constant(mask),
                                             GenerationOptions(**{"max_new_tokens": MAX_LENGTH, **options}),
                                             MAX_LENGTH))
    with pytest.raises(tf.errors.InvalidArgumentError, match=reason):
        decode()
