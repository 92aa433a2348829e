"""Hugging Face T5 import: logits, greedy generation and tokenizer ids equal PyTorch ``transformers``'.

The references are in tests/fixtures/hf_t5.npz, written with the checkpoints in tests/fixtures/hf_t5/ by
tests/fixtures/make_hf_t5.py (torch); these tests need no torch. ``t5_relu_tied`` is v1.0-shaped (relu, tied,
rescaled), ``t5_gated_untied`` v1.1/FLAN-shaped (gated tanh GELU, own lm_head, 16 buckets, max distance 20,
epsilon 1e-5); both have ``d_kv`` ≠ ``d_model / num_heads``.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from signature_support import session_run
from zoo.errors import UsageError
from zoo.models.hf.t5_checkpoint import load_t5_checkpoint, read_t5_config
from zoo.models.text.t5_decoding import t5_greedy
from zoo_subprocess import only_version, run_python

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINTS = ("t5_relu_tied", "t5_gated_untied")
NEW_TOKENS = 64
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "hf_t5.npz") as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module", params=CHECKPOINTS)
def imported(request, reference):
    """(name, checkpoint, that checkpoint's references with the name prefix dropped)."""
    name = request.param
    own = {k.split("/", 1)[1]: v for k, v in reference.items() if k.startswith(name + "/")}
    return name, load_t5_checkpoint(FIXTURES / "hf_t5" / name), own


@pytest.fixture(scope="module")
def decode(imported):
    """Greedy decoding of the imported model, traced once with an open batch (cached, and recomputing)."""
    lm = imported[1].lm
    spec = [tf.TensorSpec([None, None], tf.int32)] * 2
    return {cache: tf.function(lambda ids, mask, cache=cache: t5_greedy(lm, ids, mask, NEW_TOKENS, cache=cache),
                               input_signature=spec) for cache in (True, False)}


def test_logits_equal_pytorch_within_1e_4(imported):
    name, checkpoint, ref = imported
    decoder_ids = ref["decoder_input_ids"]
    outputs = checkpoint.lm.backbone({
        "encoder_token_ids": ref["input_ids"], "encoder_padding_mask": ref["attention_mask"],
        "decoder_token_ids": decoder_ids, "decoder_padding_mask": np.ones_like(decoder_ids),
    })
    logits = checkpoint.lm._logits(outputs["decoder_sequence_output"]).numpy()
    assert logits.shape == ref["logits"].shape
    assert np.abs(logits - ref["logits"]).max() < TOLERANCE, name


@pytest.mark.parametrize("batch", [1, 7])
def test_greedy_ids_equal_pytorch_generate_for_64_tokens(imported, decode, batch):
    name, _, ref = imported
    expected = ref["generated_1"] if batch == 1 else ref["generated"]
    length = int(ref["attention_mask"][:batch].sum(axis=1).max())  # padded to the longest row of this batch
    ours = decode[True](ref["input_ids"][:batch, :length], ref["attention_mask"][:batch, :length]).numpy()
    np.testing.assert_array_equal(ours, expected)
    if batch == 7:  # the fixture has rows that stop early (pad after eos) and rows that run to 64 tokens
        ended = (expected == 1).any(axis=1)
        assert ended.any() and not ended.all()


def test_cached_decode_equals_recomputing_decode(imported, decode):
    _, _, ref = imported
    ids, mask = ref["input_ids"], ref["attention_mask"]
    np.testing.assert_array_equal(decode[True](ids, mask).numpy(), decode[False](ids, mask).numpy())


def test_cached_decode_has_no_dynamic_update_slice(decode):
    graph = decode[True].get_concrete_function().graph.as_graph_def()
    ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
    assert "While" in ops or "StatelessWhile" in ops
    assert not any(op.startswith("Xla") for op in ops)


def test_in_graph_text_pipeline_equals_pytorch_tokenizer_and_decode(imported):
    _, checkpoint, ref = imported
    vocab, tokenizer = checkpoint.vocab, checkpoint.vocab.tokenizer()
    ids, mask = vocab.encode(tf.constant(ref["texts"]), 10_000, tokenizer)
    np.testing.assert_array_equal(ids.numpy(), ref["input_ids"])
    np.testing.assert_array_equal(mask.numpy(), ref["attention_mask"])
    decoded = [t.decode() for t in vocab.decode(ref["generated"], tokenizer).numpy()]
    assert decoded == ref["decoded"].tolist()


def test_tokenizer_ids_equal_hugging_face_on_sentinels_eos_whitespace_and_non_latin(reference):
    cases = reference["tokenizer/cases"].tolist()
    expected = np.split(reference["tokenizer/ids"], np.cumsum(reference["tokenizer/lengths"])[:-1])
    checkpoint = load_t5_checkpoint(FIXTURES / "hf_t5" / "t5_relu_tied")
    ids, mask = checkpoint.vocab.encode(tf.constant(cases), 10_000)
    for case, row, row_mask, want in zip(cases, ids.numpy(), mask.numpy(), expected):
        assert row[row_mask == 1].tolist() == want.tolist(), case
    assert checkpoint.vocab.size == 500 and checkpoint.vocab.piece(checkpoint.vocab.sentinel_id(0)) == "<extra_id_0>"


# ------------------------------------------------------------------------------------------- bad input
@pytest.fixture
def copy_of(tmp_path):
    def copy(name="t5_gated_untied"):
        target = tmp_path / name
        shutil.copytree(FIXTURES / "hf_t5" / name, target)
        return target
    return copy


def edit_config(directory: Path, **changes) -> None:
    config = json.loads((directory / "config.json").read_text())
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


@pytest.mark.parametrize("changes, message", [
    ({"feed_forward_proj": "gated-tanhshrink"}, "feed_forward_proj 'gated-tanhshrink'"),
    ({"feed_forward_proj": "fancy-gelu"}, "feed_forward_proj 'fancy-gelu'"),
    ({"num_decoder_layers": 3}, "num_decoder_layers 3 differs from num_layers 2"),
    ({"model_type": "bert"}, "model_type is 'bert', expected 't5'"),
])
def test_unsupported_config_is_one_line_naming_config_json(copy_of, changes, message):
    directory = copy_of()
    edit_config(directory, **changes)
    with pytest.raises(UsageError, match=message) as error:
        read_t5_config(directory)
    assert str(directory / "config.json") in str(error.value) and "\n" not in str(error.value)


def test_missing_files_are_named(copy_of, tmp_path):
    with pytest.raises(UsageError, match="no such checkpoint directory"):
        read_t5_config(tmp_path / "nowhere")
    directory = copy_of()
    (directory / "spiece.model").unlink()
    with pytest.raises(UsageError, match=r"spiece.model: missing"):
        read_t5_config(directory)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
    with pytest.raises(UsageError, match=r"model.safetensors: missing; only pytorch_model.bin"):
        read_t5_config(directory)


def test_weights_that_disagree_with_the_config_are_refused(copy_of):
    directory = copy_of()
    edit_config(directory, d_ff=44)
    # checked on the last block's tensors before a model is built
    with pytest.raises(UsageError, match=r"model.safetensors: tensor 'encoder.block.1.layer.1.DenseReluDense.wi_0."
                                         r"weight' has shape \[40, 32\], but config.json implies \[44, 32\]"):
        load_t5_checkpoint(directory)
    edit_config(directory, d_ff=40, tie_word_embeddings=True)
    with pytest.raises(UsageError, match="lm_head.weight differs from shared.weight"):
        load_t5_checkpoint(directory)


# --------------------------------------------------------------------------- python -m zoo.run t5 --set init=
@pytest.mark.slow
def test_zoo_run_init_epochs_0_serves_pytorch_generation(tmp_path, reference):
    """The FLAN-shaped checkpoint exported as it is: served token_ids and text equal PyTorch's generate."""
    name = "t5_gated_untied"
    done = run_python(["-m", "zoo.run", "t5", "--set", f"init={FIXTURES / 'hf_t5' / name}", "--set", "epochs=0",
                       "--set", f"max_decode_length={NEW_TOKENS}", "--set", "max_input_length=48",
                       "--set", "max_examples=16", "--export-dir", str(tmp_path / "exports")],
                      cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    version = only_version(tmp_path / "exports", "t5")
    texts = reference[f"{name}/texts"]
    for batch, expected in ((1, reference[f"{name}/generated_1"]), (7, reference[f"{name}/generated"])):
        signature, out = session_run(version, "serving_default", {"text": np.array(texts[:batch], dtype=object)})
        assert sorted(signature.outputs) == ["text", "token_ids"]
        np.testing.assert_array_equal(out["token_ids"], expected)
        assert [t.decode() for t in out["text"]] == reference[f"{name}/decoded"][:batch].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nowhere", "no such checkpoint directory"),
    (lambda d: (d / "model.safetensors").rename(d / "pytorch_model.bin").parent, "only pytorch_model.bin"),
    (lambda d: (d / "spiece.model").unlink() or d, "spiece.model: missing"),
])
def test_zoo_run_bad_init_exits_2_with_one_line_and_writes_nothing(tmp_path, copy_of, make, message):
    directory = make(copy_of())
    done = run_python(["-m", "zoo.run", "t5", "--set", f"init={directory}", "--set", "epochs=0",
                       "--export-dir", str(tmp_path / "exports")], cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "exports").exists()
