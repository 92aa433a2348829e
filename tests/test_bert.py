"""bert recipe: `--set epochs=0` exports MiniLM as it is, and its `encode` signature, run through TF Serving's
TF1 session loader, equals PyTorch transformers within 1e-4; raw DT_STRING text in; scratch MLM path exports."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from signature_support import session_run
from zoo.run import main

FIXTURE = Path(__file__).parent / "fixtures" / "bert_parity.npz"


@pytest.fixture(scope="module")
def minilm_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert")
    status = main(["bert", "--set", "epochs=0", "--set", "max_examples=8", "--set", "sequence_length=24",
                   "--export-dir", str(root / "exports"), "--run-dir", str(root / "run")])
    assert status == 0
    return root / "exports" / "bert" / "1"


@pytest.mark.slow
def test_epochs_0_export_encode_matches_pytorch_through_session_loader(minilm_export):
    with np.load(FIXTURE) as ref:
        feeds = {"token_ids": ref["token_ids"], "segment_ids": np.zeros_like(ref["token_ids"]),
                 "padding_mask": ref["padding_mask"]}
        signature, out = session_run(minilm_export, "encode", feeds)
        real = ref["padding_mask"].astype(bool)
        assert np.abs(out["sequence_output"] - ref["sequence_output"])[real].max() < 1e-4
        assert np.abs(out["pooled_output"] - ref["pooled_output"]).max() < 1e-4
        assert all(signature.inputs[k].dtype == tf.int32.as_datatype_enum for k in feeds)

        # embed tokenises raw text in the graph (sequence_length 24, as the fixture) and mean-pools
        _, embedded = session_run(minilm_export, "embed", {"text": ref["sentences"].astype(object)})
        assert np.abs(embedded["embeddings"] - ref["embeddings"]).max() < 1e-4


@pytest.mark.slow
def test_serving_default_takes_raw_string_text(minilm_export):
    signature, out = session_run(minilm_export, "serving_default",
                                 {"text": np.array([b"Shares rose after the results.", b""], dtype=object)})
    assert signature.inputs["text"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in signature.inputs["text"].tensor_shape.dim] == [-1]
    assert out["probabilities"].shape == (2, 5)
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert set(out["classes"]) <= {b"business", b"entertainment", b"politics", b"sports", b"tech"}


@pytest.mark.slow
def test_scratch_masked_lm_pretrains_fine_tunes_and_exports(tmp_path):
    Bert = zoo.get_recipe("bert")
    config = Bert.Config(init="scratch", pretrain_steps=2, pretrain_batch_size=4, hidden_dim=32, num_layers=1,
                         num_heads=1, sequence_length=32, epochs=1, batch_size=8, max_examples=24)
    result = Bert(config, run_dir=tmp_path / "run", verbose=0).run(tmp_path / "exports")
    assert set(result.export.gate.signatures_run) == {"serving_default", "classify", "embed", "encode"}
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
    assert result.trained.pretraining["steps"] == 2 and 0.0 <= result.trained.pretraining["mlm_accuracy"] <= 1.0


def test_bad_init_directory_is_a_usage_or_data_error(tmp_path, capsys):
    assert main(["bert", "--set", f"init={tmp_path}", "--export-dir", str(tmp_path / "x")]) == 2
    assert f"{tmp_path / 'config.json'}: missing" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
