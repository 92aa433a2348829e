"""Beam search and sampling on imported T5 checkpoints, held against PyTorch ``transformers`` ``generate``.

References: tests/fixtures/hf_t5_generation.npz, written by tests/fixtures/make_hf_t5_generation.py (torch) from the
checkpoints in tests/fixtures/hf_t5/ (v1.0-shaped ``t5_relu_tied`` and v1.1/FLAN-shaped ``t5_gated_untied``).
"""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from zoo.models.hf.t5_checkpoint import load_t5_checkpoint
from zoo.models.text.decoding import GenerationOptions
from zoo.models.text.t5_decoding import t5_generate

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINTS = ("t5_relu_tied", "t5_gated_untied")
NEW_TOKENS, BEAMS, RETURNED = 24, 4, 2
SAMPLING = {"top_k": (0.7, 5, 1.0, 11), "top_p": (1.0, 0, 0.8, 12), "both": (1.3, 20, 0.9, 13)}  # as the fixture
EOS = 1


@pytest.fixture(scope="module")
def references():
    arrays = {}
    for name in ("hf_t5.npz", "hf_t5_generation.npz"):
        with np.load(FIXTURES / name) as data:
            arrays.update({k: data[k] for k in data.files})
    return arrays


@pytest.fixture(scope="module", params=CHECKPOINTS)
def checkpoint(request, references):
    """(the imported model, its inputs and mask, its references with the name prefix dropped)."""
    name = request.param
    own = {k.split("/", 1)[1]: v for k, v in references.items() if k.startswith(name + "/")}
    return load_t5_checkpoint(FIXTURES / "hf_t5" / name).lm, own["input_ids"], own["attention_mask"], own


@pytest.fixture(scope="module")
def generate(checkpoint):
    """t5_generate traced once, every option an input, the batch open (as the exported signature runs it)."""
    lm = checkpoint[0]
    specs = [tf.TensorSpec([None, None], tf.int32)] * 2 + [tf.TensorSpec([], dtype) for dtype in
                                                           (tf.int32, tf.int32, tf.bool, tf.float32, tf.int32,
                                                            tf.float32, tf.int64, tf.int32)]

    @tf.function(input_signature=specs)
    def run(ids, mask, *options):
        return t5_generate(lm, ids, mask, GenerationOptions(*options), NEW_TOKENS)

    def call(ids, mask, max_new_tokens=NEW_TOKENS, num_beams=1, do_sample=False, temperature=1.0, top_k=0, top_p=1.0,
             seed=0, num_return_sequences=1):
        tokens, scores = run(ids, mask, max_new_tokens, num_beams, do_sample, temperature, top_k, top_p, seed,
                             num_return_sequences)
        return tokens.numpy(), scores.numpy()

    return call


def rows_alone(ids, mask):
    """Each input as a batch of its own, without padding."""
    return [(ids[i:i + 1, :mask[i].sum()], mask[i:i + 1, :mask[i].sum()]) for i in range(len(ids))]


def test_beam_search_equals_pytorch_in_a_batch_of_different_lengths(checkpoint, generate):
    _, ids, mask, ref = checkpoint
    assert len(set(mask.sum(axis=1))) > 3  # the inputs differ in length
    tokens, scores = generate(ids, mask, num_beams=BEAMS, num_return_sequences=RETURNED)
    np.testing.assert_array_equal(tokens.reshape(-1, NEW_TOKENS), ref["beam/batch_tokens"])
    np.testing.assert_allclose(scores.reshape(-1), ref["beam/batch_scores"], atol=1e-3)


def test_beam_search_equals_pytorch_for_each_input_alone(checkpoint, generate):
    _, ids, mask, ref = checkpoint
    results = [generate(i, m, num_beams=BEAMS, num_return_sequences=RETURNED) for i, m in rows_alone(ids, mask)]
    np.testing.assert_array_equal(np.concatenate([t.reshape(-1, NEW_TOKENS) for t, _ in results]),
                                  ref["beam/alone_tokens"])
    np.testing.assert_allclose(np.concatenate([s.reshape(-1) for _, s in results]), ref["beam/alone_scores"],
                               atol=1e-3)
    assert (ref["beam/alone_tokens"] == EOS).any(axis=1).any()  # some hypotheses end before the last step


@pytest.mark.parametrize("case", SAMPLING)
def test_sampled_tokens_are_inside_pytorchs_candidates_at_every_step(checkpoint, generate, case):
    _, ids, mask, ref = checkpoint
    temperature, top_k, top_p, seed = SAMPLING[case]
    tokens, _ = generate(ids, mask, do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                         num_return_sequences=RETURNED)
    tokens = tokens.reshape(-1, NEW_TOKENS)
    # The same seed draws what it drew when the fixture was made: the teacher-forced sets below are for these tokens.
    np.testing.assert_array_equal(tokens, ref[f"sample/{case}/tokens"])
    allowed = ref[f"sample/{case}/allowed"]
    before_end = np.cumsum(tokens == EOS, axis=1) - (tokens == EOS) == 0  # every token up to and including eos
    chosen_allowed = np.take_along_axis(allowed, tokens[:, :, None], axis=2)[:, :, 0]
    assert chosen_allowed[before_end].all()
    sizes = allowed.sum(axis=2)[before_end]
    assert sizes.max() > 1 and sizes.min() < allowed.shape[2]  # the sets were real choices, not all or one token


def test_top_k_1_is_greedy_and_a_seed_repeats(checkpoint, generate):
    _, ids, mask, ref = checkpoint
    greedy, _ = generate(ids, mask)
    np.testing.assert_array_equal(greedy[:, 0, :], ref["generated"][:, :NEW_TOKENS])
    sampled, _ = generate(ids, mask, do_sample=True, top_k=1, temperature=0.5, seed=3)
    np.testing.assert_array_equal(sampled, greedy)
    first, second = (generate(ids, mask, do_sample=True, seed=7, num_return_sequences=3)[0] for _ in range(2))
    np.testing.assert_array_equal(first, second)
    other_seed, _ = generate(ids, mask, do_sample=True, seed=8, num_return_sequences=3)
    assert (other_seed != first).any()


def test_a_sampled_row_does_not_depend_on_the_rest_of_its_batch(checkpoint, generate):
    _, ids, mask, _ = checkpoint
    options = dict(do_sample=True, top_p=0.9, seed=5, num_return_sequences=2)
    batch, _ = generate(ids, mask, **options)
    for row, (alone_ids, alone_mask) in enumerate(rows_alone(ids, mask)):
        np.testing.assert_array_equal(generate(alone_ids, alone_mask, **options)[0][0], batch[row])
    assert (batch[:, 0] != batch[:, 1]).any()  # the two return sequences are two draws


def test_greedy_and_sampling_scores_are_mean_log_probabilities_of_the_tokens(checkpoint, generate):
    lm, ids, mask, _ = checkpoint
    tokens, scores = generate(ids, mask, do_sample=True, top_k=8, seed=2)
    tokens = tokens[:, 0, :]
    decoder_ids = np.concatenate([np.zeros((len(tokens), 1), np.int32), tokens[:, :-1]], axis=1)
    outputs = lm.backbone({"encoder_token_ids": ids, "encoder_padding_mask": mask, "decoder_token_ids": decoder_ids,
                           "decoder_padding_mask": np.ones_like(decoder_ids)})
    log_probs = tf.nn.log_softmax(lm._logits(outputs["decoder_sequence_output"])).numpy()
    picked = np.take_along_axis(log_probs, tokens[:, :, None], axis=2)[:, :, 0]
    counted = np.cumsum(tokens == EOS, axis=1) - (tokens == EOS) == 0
    np.testing.assert_allclose(scores[:, 0], (picked * counted).sum(axis=1) / counted.sum(axis=1), atol=1e-4)
