"""ELECTRA checkpoints import from safetensors into KerasHub with PyTorch's numbers, and bad directories are refused.

References: tests/fixtures/hf_encoders.npz (PyTorch transformers on the tiny checkpoints of
tests/fixtures/make_hf_encoders.py); no torch needed here.
"""

import numpy as np
import pytest
import tensorflow as tf

from hf_encoder_support import (
    LAYOUTS, TOLERANCE, backbone_inputs, checkpoint, decoded, edited_copy, every_position, max_difference,
    max_log_difference, reference, saved_as,
)
from signature_support import session_run
import zoo
from zoo.data.splits import Provenance, Splits
from zoo.errors import UsageError
from zoo.models.hf.electra_checkpoint import checkpoint_kind, load_electra_discriminator, load_electra_generator
from zoo.models.text.fill_mask import FillMask
from zoo.models.text.wordpiece import WordpieceTokenizer
from zoo_subprocess import only_version, run_python


@pytest.fixture(scope="module")
def discriminator_ref():
    return reference("electra_discriminator")


@pytest.fixture(scope="module")
def generator_ref():
    return reference("electra_generator")


def replaced_error(directory, ref) -> float:
    probabilities = load_electra_discriminator(directory).replaced_probabilities(backbone_inputs(ref))
    return max_difference(probabilities, ref["replaced_probabilities"], ref["padding_mask"])


def test_discriminator_replaced_probabilities_equal_sigmoid_of_pytorch_logits(discriminator_ref):
    assert replaced_error(checkpoint("electra_discriminator"), discriminator_ref) < TOLERANCE


def test_discriminator_needs_the_configs_layer_norm_epsilon(discriminator_ref, tmp_path):
    """The fixture's eps is 1e-3; KerasHub's built-in 1e-12 (what an unmapped import would use) misses parity."""
    assert replaced_error(edited_copy("electra_discriminator", tmp_path, layer_norm_eps=1e-12), discriminator_ref) > 1e-3


def generator_probabilities(directory, ref):
    logits = load_electra_generator(directory).logits(backbone_inputs(ref), every_position(ref))
    return tf.nn.softmax(logits).numpy()


def test_generator_masked_lm_probabilities_equal_pytorch(generator_ref):
    probabilities = generator_probabilities(checkpoint("electra_generator"), generator_ref)
    assert max_difference(probabilities, generator_ref["probabilities"], generator_ref["padding_mask"]) < TOLERANCE
    assert max_log_difference(probabilities, generator_ref["probabilities"], generator_ref["padding_mask"]) < TOLERANCE


def test_generator_needs_the_tanh_gelu_its_config_names(generator_ref, tmp_path):
    """hidden_act gelu_new (tanh) in the fixture: reading it as erf GELU changes the probabilities by far more."""
    probabilities = generator_probabilities(edited_copy("electra_generator", tmp_path, hidden_act="gelu"), generator_ref)
    assert max_log_difference(probabilities, generator_ref["probabilities"], generator_ref["padding_mask"]) > 1e-3


def test_generator_fill_mask_equals_the_pipeline(generator_ref):
    directory = checkpoint("electra_generator")
    tokenizer = WordpieceTokenizer.from_vocabulary_file(directory / "vocab.txt", sequence_length=64)
    out = FillMask(load_electra_generator(directory), tokenizer, top_k=5)(tf.constant(generator_ref["texts"]))
    assert decoded(out["tokens"].numpy()) == generator_ref["fill_tokens"].tolist()
    np.testing.assert_allclose(out["scores"].numpy(), generator_ref["fill_scores"], atol=TOLERANCE, rtol=0)


def test_checkpoint_kind_tells_discriminator_from_generator():
    assert checkpoint_kind(checkpoint("electra_discriminator")) == "discriminator"
    assert checkpoint_kind(checkpoint("electra_generator")) == "generator"
    with pytest.raises(UsageError, match=r"model.safetensors: an ELECTRA discriminator, where a generator"):
        load_electra_generator(checkpoint("electra_discriminator"))


def test_bad_directories_are_one_line_usage_errors_naming_the_file(tmp_path):
    cases = {
        "missing directory": (tmp_path / "nowhere", r"nowhere: no such checkpoint directory"),
        "BERT, not ELECTRA": (checkpoint("bert_mlm"), r"config.json: model_type is 'bert', expected 'electra'"),
        "shape mismatch": (edited_copy("electra_discriminator", tmp_path / "a", embedding_size=8),
                           r"model.safetensors: tensor 'electra.embeddings.word_embeddings.weight' has shape "
                           r"\[\d+, 16\], but config.json implies \[\d+, 8\]"),
        "unsupported setting": (edited_copy("electra_discriminator", tmp_path / "b", position_embedding_type="relative_key",
                                            hidden_act="quick_gelu"),
                                r"config.json: cannot import .*hidden_act 'quick_gelu'.*position_embedding_type"),
    }
    torch_only = edited_copy("electra_discriminator", tmp_path / "c")
    (torch_only / "model.safetensors").rename(torch_only / "pytorch_model.bin")
    cases["pytorch_model.bin only"] = (torch_only, r"model.safetensors: missing; only pytorch_model.bin")
    no_tokenizer = edited_copy("electra_discriminator", tmp_path / "d")
    (no_tokenizer / "vocab.txt").unlink()
    (no_tokenizer / "tokenizer.json").unlink()
    cases["no vocabulary"] = (no_tokenizer, r"vocab.txt: missing, and no tokenizer.json either")
    disagreeing = edited_copy("electra_discriminator", tmp_path / "e")
    tokens = (disagreeing / "vocab.txt").read_text().splitlines()
    (disagreeing / "vocab.txt").write_text("\n".join([*tokens[:7], "[unused]", *tokens[8:]]) + "\n")
    cases["vocab.txt and tokenizer.json disagree"] = (disagreeing, r"vocab.txt and tokenizer.json list different "
                                                                   r"vocabularies \(\d+ and \d+ tokens; first "
                                                                   r"difference at id 7\)")
    for name, (directory, message) in cases.items():
        with pytest.raises(UsageError, match=message) as caught:
            load_electra_discriminator(directory)
        assert "\n" not in str(caught.value), name


def test_cased_tokenizer_is_refused(tmp_path):
    directory = edited_copy("electra_discriminator", tmp_path)
    (directory / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    with pytest.raises(UsageError, match=r"tokenizer_config.json: do_lower_case is false"):
        load_electra_discriminator(directory)


@pytest.mark.slow
@pytest.mark.parametrize("layout", LAYOUTS)
def test_electra_recipe_exports_imported_checkpoints_with_pytorchs_numbers(discriminator_ref, generator_ref, tmp_path,
                                                                          layout):
    """``python -m zoo.run electra --set init=D --set generator_init=G --set epochs=0``, served by TF Serving's loader:
    ``replaced`` = sigmoid(ElectraForPreTraining logits) and ``fill_mask`` = the fill-mask pipeline; the same from
    the tokenizer files transformers 5 saves (no vocab.txt)."""
    export_dir = tmp_path / "saved_models"
    discriminator, generator = (saved_as(layout, kind, tmp_path) for kind in ("electra_discriminator",
                                                                              "electra_generator"))
    run = run_python(["-m", "zoo.run", "electra", "--set", f"init={discriminator}",
                      "--set", f"generator_init={generator}", "--set", "epochs=0",
                      "--set", "max_examples=16", "--set", "sequence_length=48", "--export-dir", str(export_dir)],
                     cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    version = only_version(export_dir, "electra")
    # `replaced` tokenises like the classifier (no special-token matching), so only the texts without [MASK]
    rows = [i for i, text in enumerate(discriminator_ref["texts"]) if "[MASK]" not in text]
    _, replaced = session_run(version, "replaced", {"text": discriminator_ref["texts"][rows].astype(object)})
    length = replaced["token_ids"].shape[1]
    ref = {k: discriminator_ref[k][rows][:, :length] for k in ("token_ids", "padding_mask", "replaced_probabilities")}
    np.testing.assert_array_equal(replaced["token_ids"], ref["token_ids"])
    assert max_difference(replaced["replaced_probabilities"], ref["replaced_probabilities"], ref["padding_mask"]) < TOLERANCE
    assert not replaced["replaced_probabilities"][ref["padding_mask"] == 0].any()
    _, filled = session_run(version, "fill_mask", {"text": generator_ref["texts"].astype(object)})
    assert decoded(filled["tokens"]) == generator_ref["fill_tokens"].tolist()
    np.testing.assert_allclose(filled["scores"], generator_ref["fill_scores"], atol=TOLERANCE, rtol=0)


def imported_start(discriminator_ref, **overrides):
    """The electra recipe's initial encoder from the fixture discriminator, pretrained further per ``overrides``
    on the fixture's own texts; returns it and its replaced-token error against PyTorch."""
    Electra = zoo.get_recipe("electra")
    config = Electra.Config(init=str(checkpoint("electra_discriminator")), sequence_length=48, pretrain_batch_size=4,
                            generator_hidden_dim=8, **overrides)
    texts = [str(t) for t in discriminator_ref["texts"]] * 4
    splits = Splits(train=(np.array(texts, dtype=object), np.zeros(len(texts))),
                    test=(np.array(texts[:2], dtype=object), np.zeros(2)), label_names=("x",), provenance=Provenance("fixture"))
    initial = Electra(config, verbose=0).initial_encoder(splits)
    probabilities = tf.sigmoid(initial.pretrainer.replaced_logits(backbone_inputs(discriminator_ref)))
    return initial, max_difference(probabilities, discriminator_ref["replaced_probabilities"],
                                   discriminator_ref["padding_mask"])


def test_imported_discriminator_is_not_pretrained_further_by_default(discriminator_ref):
    initial, error = imported_start(discriminator_ref)
    assert initial.pretraining["steps"] == 0 and error < TOLERANCE


@pytest.mark.slow
def test_pretrain_steps_continue_from_the_imported_discriminator(discriminator_ref):
    """A vanishing learning rate leaves the checkpoint's numbers (the run started from it, head included); a
    real one moves them."""
    initial, error = imported_start(discriminator_ref, pretrain_steps=2, pretrain_learning_rate=1e-12)
    assert initial.pretraining["steps"] == 2 and error < TOLERANCE
    _, error = imported_start(discriminator_ref, pretrain_steps=2, pretrain_learning_rate=1e-2)
    assert error > 1e-3


def test_electra_recipe_refuses_a_generator_as_init_before_doing_anything(tmp_path):
    run = run_python(["-m", "zoo.run", "electra", "--set", f"init={checkpoint('electra_generator')}",
                      "--export-dir", str(tmp_path / "out")], cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().endswith("model.safetensors: an ELECTRA generator, where a discriminator is expected")
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def write_bfloat16_copy(source, target):
    """``source`` safetensors re-written with every tensor as bfloat16 (float32 truncated to its top half)."""
    import json

    from safetensors.numpy import load_file

    tensors = load_file(str(source))
    header, blobs, offset = {}, [], 0
    for name, value in tensors.items():
        blob = (np.ascontiguousarray(value, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    target.write_bytes(len(encoded).to_bytes(8, "little") + encoded + b"".join(blobs))
    return tensors


def test_bfloat16_checkpoints_are_widened_exactly(tmp_path):
    from zoo.models.hf.checkpoint_files import CheckpointWeights

    directory = edited_copy("electra_discriminator", tmp_path)
    tensors = write_bfloat16_copy(checkpoint("electra_discriminator") / "model.safetensors",
                                  directory / "model.safetensors")
    name = "electra.embeddings.word_embeddings.weight"
    truncated = (tensors[name].view(np.uint32) & 0xFFFF0000).view(np.float32)
    got = CheckpointWeights(directory, prefix="electra.").get("embeddings.word_embeddings.weight", tensors[name].shape)
    np.testing.assert_array_equal(got, truncated)
    assert load_electra_discriminator(directory).backbone.num_layers == 2
