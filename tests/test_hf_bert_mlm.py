"""BERT with its masked-LM head imports from safetensors with PyTorch's probabilities; fill_mask equals the pipeline.

References: tests/fixtures/hf_encoders.npz (PyTorch transformers' BertForMaskedLM and fill-mask pipeline on the tiny
checkpoint of tests/fixtures/make_hf_encoders.py, whose output embedding is untied); no torch needed here.
"""

import numpy as np
import pytest
import tensorflow as tf

from hf_encoder_support import (
    LAYOUTS, TOLERANCE, backbone_inputs, checkpoint, decoded, edited_copy, every_position, max_difference,
    max_log_difference, reference, saved_as,
)
from signature_support import session_run
from zoo.data.minilm import minilm_directory
from zoo.errors import UsageError
from zoo.models.hf.bert_checkpoint import has_masked_lm_head, load_bert_checkpoint, load_bert_masked_lm
from zoo.models.text.fill_mask import FillMask
from zoo.models.text.wordpiece import WordpieceTokenizer
from zoo_subprocess import only_version, run_python

DIRECTORY = checkpoint("bert_mlm")


@pytest.fixture(scope="module")
def ref():
    return reference("bert_mlm")


@pytest.fixture(scope="module")
def tokenizer():
    return WordpieceTokenizer.from_vocabulary_file(DIRECTORY / "vocab.txt", sequence_length=64)


def test_masked_lm_probabilities_equal_pytorch(ref):
    logits = load_bert_masked_lm(DIRECTORY).logits(backbone_inputs(ref), every_position(ref))
    probabilities = tf.nn.softmax(logits).numpy()
    assert max_difference(probabilities, ref["probabilities"], ref["padding_mask"]) < TOLERANCE
    assert max_log_difference(probabilities, ref["probabilities"], ref["padding_mask"]) < TOLERANCE


def test_token_ids_with_masks_equal_the_hugging_face_tokenizer(ref, tokenizer):
    """[MASK] is an added token (matched before lower-casing, so '[mask]' stays text), the rest is WordPiece."""
    ours = tokenizer(tf.constant(ref["texts"]))
    np.testing.assert_array_equal(ours["token_ids"].numpy(), ref["token_ids"])
    np.testing.assert_array_equal(ours["padding_mask"].numpy(), ref["padding_mask"])


def test_fill_mask_equals_the_pipeline(ref, tokenizer):
    out = FillMask(load_bert_masked_lm(DIRECTORY), tokenizer, top_k=5)(tf.constant(ref["texts"]))
    assert decoded(out["tokens"].numpy()) == ref["fill_tokens"].tolist()
    np.testing.assert_allclose(out["scores"].numpy(), ref["fill_scores"], atol=TOLERANCE, rtol=0)


def test_untied_checkpoint_read_as_tied_loses_parity(ref, tmp_path):
    """The fixture's decoder is its own matrix; projecting with the token embedding instead is visibly wrong."""
    tied = load_bert_masked_lm(edited_copy("bert_mlm", tmp_path, tie_word_embeddings=True))
    probabilities = tf.nn.softmax(tied.logits(backbone_inputs(ref), every_position(ref))).numpy()
    assert max_log_difference(probabilities, ref["probabilities"], ref["padding_mask"]) > 1e-2


def test_backbone_only_directory_loads_as_before_but_has_no_masked_lm():
    assert not has_masked_lm_head(minilm_directory())
    assert load_bert_checkpoint(minilm_directory()).hidden_dim == 384
    with pytest.raises(UsageError, match=r"model.safetensors: no masked-LM head \(cls.predictions"):
        load_bert_masked_lm(minilm_directory())
    assert has_masked_lm_head(DIRECTORY)


def test_mlm_checkpoint_backbone_loads_without_a_pooler():
    assert load_bert_checkpoint(DIRECTORY).num_layers == 2


def test_electra_directory_is_not_bert(tmp_path):
    with pytest.raises(UsageError, match=r"config.json: model_type is 'electra', expected 'bert'"):
        load_bert_masked_lm(checkpoint("electra_generator"))
    # checked on the last layer's tensors before a model is built
    with pytest.raises(UsageError, match=r"model.safetensors: tensor 'bert.encoder.layer.1.intermediate.dense.weight' "
                                         r"has shape \[48, 32\], but config.json implies \[64, 32\]"):
        load_bert_masked_lm(edited_copy("bert_mlm", tmp_path, intermediate_size=64))


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_bert_recipe_exports_an_mlm_checkpoint_with_fill_mask_equal_to_the_pipeline(ref, tmp_path, layout):
    """``python -m zoo.run bert --set init=DIR --set epochs=0``, then fill_mask through TF Serving's loader; the
    same from the tokenizer files transformers 5 saves (no vocab.txt)."""
    export_dir = tmp_path / "saved_models"
    directory = saved_as(layout, "bert_mlm", tmp_path)
    run = run_python(["-m", "zoo.run", "bert", "--set", f"init={directory}", "--set", "epochs=0",
                      "--set", "max_examples=16", "--set", "sequence_length=48", "--export-dir", str(export_dir)],
                     cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    _, out = session_run(only_version(export_dir, "bert"), "fill_mask", {"text": ref["texts"].astype(object)})
    assert decoded(out["tokens"]) == ref["fill_tokens"].tolist()
    np.testing.assert_allclose(out["scores"], ref["fill_scores"], atol=TOLERANCE, rtol=0)


def test_bert_recipe_refuses_a_bad_checkpoint_before_doing_anything(tmp_path):
    run = run_python(["-m", "zoo.run", "bert", "--set", f"init={checkpoint('electra_generator')}",
                      "--export-dir", str(tmp_path / "out")], cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().endswith("config.json: model_type is 'electra', expected 'bert'")
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_old_layer_norm_names_gamma_and_beta_are_read(ref, tmp_path):
    """TF-converted checkpoints (bert-base-uncased's era) name layer-norm weights gamma/beta."""
    from safetensors.numpy import load_file, save_file

    directory = edited_copy("bert_mlm", tmp_path)
    tensors = load_file(str(directory / "model.safetensors"))
    renamed = {name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): value
               for name, value in tensors.items()}
    assert renamed.keys() != tensors.keys()
    save_file(renamed, str(directory / "model.safetensors"))
    probabilities = tf.nn.softmax(load_bert_masked_lm(directory).logits(backbone_inputs(ref), every_position(ref)))
    assert max_log_difference(probabilities.numpy(), ref["probabilities"], ref["padding_mask"]) < TOLERANCE
