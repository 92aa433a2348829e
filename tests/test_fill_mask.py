"""The fill_mask graph: [MASK]-aware tokenisation, rows without a mask, and an export TF Serving's loader runs.

The exported test compares the session-loader outputs with Hugging Face's fill-mask pipeline on the tiny ELECTRA
generator of tests/fixtures (reference numbers in tests/fixtures/hf_encoders.npz; no torch needed).
"""

import numpy as np
import pytest
import tensorflow as tf

from hf_encoder_support import TOLERANCE, checkpoint, decoded, reference
from zoo.export import Servable, export
from zoo.models.hf.electra_checkpoint import load_electra_generator
from recipes.encoder_classifier import fill_mask_endpoint
from zoo.models.text.fill_mask import FillMask, masked_examples
from zoo.models.text.wordpiece import WordpieceTokenizer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##b"]
DIRECTORY = checkpoint("electra_generator")


@pytest.fixture(scope="module")
def generator():
    return load_electra_generator(DIRECTORY)


def tokenizer(sequence_length=64):
    return WordpieceTokenizer.from_vocabulary_file(DIRECTORY / "vocab.txt", sequence_length=sequence_length)


def test_masks_are_matched_exactly_and_anywhere():
    small = WordpieceTokenizer(VOCABULARY, sequence_length=10)
    ids = small(tf.constant(["[MASK][MASK]a", "ab[MASK]", "A [Mask] b", "[MASK]"]))["token_ids"]
    assert ids.numpy().tolist() == [[2, 4, 4, 5, 3, 0, 0], [2, 5, 7, 4, 3, 0, 0],
                                    [2, 5, 1, 1, 1, 6, 3], [2, 4, 3, 0, 0, 0, 0]]


def test_rows_without_a_mask_get_empty_tokens_and_zero_scores(generator):
    fill = FillMask(generator, tokenizer(sequence_length=6), top_k=3)
    out = fill(tf.constant(["no mask here", "", "the the the the the [MASK]", "the [MASK]"]))
    tokens, scores = decoded(out["tokens"].numpy()), out["scores"].numpy()
    assert tokens[:3] == [["", "", ""]] * 3 and not scores[:3].any()  # the third row's mask is cut off at 6 tokens
    assert all(tokens[3]) and scores[3, 0] >= scores[3, 1] >= scores[3, 2] > 0
    assert out["tokens"].dtype == tf.string and out["scores"].dtype == tf.float32


def test_top_k_must_fit_the_vocabulary(generator):
    with pytest.raises(ValueError, match="top_k must be between 1 and the vocabulary size 765"):
        FillMask(generator, tokenizer(), top_k=0)
    with pytest.raises(ValueError, match="top_k"):
        FillMask(generator, tokenizer(), top_k=766)


@pytest.mark.slow
def test_exported_fill_mask_equals_the_pipeline_through_the_session_loader(generator, tmp_path):
    ref = reference("electra_generator")
    fill = FillMask(generator, tokenizer(), top_k=5)
    endpoint = fill_mask_endpoint(fill, masked_examples(["Shares rose sharply after the results", "a b c"]))
    servable = Servable(tracked=[generator, fill],
                        endpoints={"serving_default": endpoint, "fill_mask": endpoint})
    result = export(servable, model_name="fill", export_root=tmp_path, card={})
    assert result.gate.signatures_run == {"serving_default": 1, "fill_mask": 1}
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        signature = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(result.path)).signature_def["fill_mask"]
        tokens, scores = session.run([signature.outputs["tokens"].name, signature.outputs["scores"].name],
                                     {signature.inputs["text"].name: ref["texts"].astype(object)})
    assert decoded(tokens) == ref["fill_tokens"].tolist()
    np.testing.assert_allclose(scores, ref["fill_scores"], atol=TOLERANCE, rtol=0)
