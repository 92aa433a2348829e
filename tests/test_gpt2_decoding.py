"""GPT-2 decoding on a Hugging Face checkpoint held against PyTorch ``transformers``: logits of a left-padded
batch, greedy tokens in the batch and alone, beam search tokens and scores; and the left-padding helpers.

References: tests/fixtures/hf_gpt2.npz and the checkpoint tests/fixtures/hf_gpt2/tiny/, written by
tests/fixtures/make_hf_gpt2.py (torch).
"""

from pathlib import Path

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from zoo.models.text.decoding import GenerationOptions
from zoo.models.text.gpt2_decoding import gpt2_generate, gpt2_logits, left_padded, positions_of

FIXTURES = Path(__file__).parent / "fixtures"
EOS, NEW_TOKENS = 215, 12  # as the fixture


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "hf_gpt2.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def backbone():
    return keras_hub.models.GPT2Backbone.from_preset(str(FIXTURES / "hf_gpt2" / "tiny"))


def generate(backbone, ids, mask, **options):
    tokens, scores = gpt2_generate(backbone, tf.constant(ids), tf.constant(mask),
                                   GenerationOptions(max_new_tokens=NEW_TOKENS, **options), NEW_TOKENS, EOS)
    return tokens.numpy(), scores.numpy()


def test_left_padding_moves_each_rows_tokens_to_the_end_and_counts_positions_from_the_mask():
    ids, mask = left_padded(tf.constant([[4, 5, 6, 0], [7, 0, 0, 0], [1, 2, 3, 4]]),
                            tf.constant([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]))
    assert ids.numpy().tolist() == [[0, 4, 5, 6], [0, 0, 0, 7], [1, 2, 3, 4]]
    assert positions_of(mask).numpy().tolist() == [[0, 0, 1, 2], [0, 0, 0, 0], [0, 1, 2, 3]]


def test_logits_of_a_left_padded_batch_equal_pytorch_within_1e_4_relative(backbone, reference):
    mask = reference["attention_mask"]
    logits = gpt2_logits(backbone, tf.constant(reference["input_ids"]), tf.constant(mask)).numpy()[mask == 1]
    expected = reference["logits"][mask == 1]
    assert np.abs(logits - expected).max() <= 1e-4 * np.abs(expected).max()
    assert np.abs(expected).max() > 1.0  # logits large enough that the bar measures the port


def test_greedy_tokens_equal_pytorch_in_a_batch_of_different_lengths_and_alone(backbone, reference):
    ids, mask = reference["input_ids"], reference["attention_mask"]
    batch, _ = generate(backbone, ids, mask)
    np.testing.assert_array_equal(batch[:, 0], reference["greedy"])
    for row in range(len(ids)):
        alone, _ = generate(backbone, ids[row:row + 1, mask[row] == 1], mask[row:row + 1, mask[row] == 1])
        np.testing.assert_array_equal(alone[0, 0], reference["greedy_alone"][row])
    ended = (reference["greedy"] == EOS).any(axis=1)
    assert ended.any() and not ended.all()


def test_beam_search_equals_pytorch(backbone, reference):
    tokens, scores = generate(backbone, reference["input_ids"], reference["attention_mask"], num_beams=4,
                              num_return_sequences=2)
    np.testing.assert_array_equal(tokens.reshape(-1, NEW_TOKENS), reference["beams"])
    np.testing.assert_allclose(scores.reshape(-1), reference["beam_scores"], atol=1e-3)


def test_traced_with_an_open_batch_and_sampling_chosen_per_call(backbone, reference):
    specs = [tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([], tf.bool), tf.TensorSpec([], tf.int64)]

    @tf.function(input_signature=specs)
    def run(ids, mask, do_sample, seed):
        options = GenerationOptions(max_new_tokens=NEW_TOKENS, do_sample=do_sample, top_k=5, seed=seed)
        return gpt2_generate(backbone, ids, mask, options, NEW_TOKENS, EOS)[0]

    ids, mask = reference["input_ids"], reference["attention_mask"]
    np.testing.assert_array_equal(run(ids, mask, False, 0).numpy()[:, 0], reference["greedy"])
    first, again, other = (run(ids, mask, True, seed).numpy() for seed in (1, 1, 2))
    np.testing.assert_array_equal(first, again)
    assert (first != other).any()
