"""lstm's tiny run (CLI, shared fixture) → export through the gate → raw text (and bad text) through TF Serving's loader."""

import json

import numpy as np
import pytest
import tensorflow as tf

import zoo
from signature_support import session_run
from zoo.data.bbc_news import LABEL_NAMES
from zoo.export.signatures import bytes_example
from zoo.run import main

EDGE_CASES = [
    "",                                                 # empty
    "Shares in the bank rose after profits beat forecasts. " * 40_000,   # ~2 MB
    "Café owner wins Москва award — 日本語 🙂",          # non-ASCII
    b"\xff\xfe\x80 not utf-8 \xc3",                     # invalid UTF-8
]


@pytest.fixture(scope="module")
def version(tiny_exports):
    """lstm's ``tiny`` run through ``python -m zoo.run`` (shared with tests/test_every_recipe.py)."""
    export_dir, runs = tiny_exports
    assert runs["lstm"].returncode == 0, runs["lstm"].stderr[-3000:]
    return export_dir / "lstm" / "1"


@pytest.mark.slow
def test_export_takes_raw_text_and_passes_the_gate(version):
    card = json.loads((version / "assets.extra" / "zoo.json").read_text())
    assert card["config"]["sequence_length"] == 32 and card["data"]["sha256"]
    assert 0.0 <= card["metrics"]["test_accuracy"] <= 1.0
    signature, out = session_run(version, "serving_default", {"text": np.array([b"Shares rose", b"A late goal"], object)})
    assert signature.inputs["text"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in signature.inputs["text"].tensor_shape.dim] == [-1]
    assert out["probabilities"].shape == (2, 5)
    assert [c.decode() for c in out["classes"]] == [LABEL_NAMES[i] for i in out["probabilities"].argmax(axis=1)]


@pytest.mark.slow
def test_edge_case_inputs_give_results_not_crashes(version):
    texts = np.array([t.encode() if isinstance(t, str) else t for t in EDGE_CASES], dtype=object)
    _, out = session_run(version, "serving_default", {"text": texts})
    assert out["probabilities"].shape == (4, 5) and np.isfinite(out["probabilities"]).all()
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, rtol=1e-5)
    assert {c.decode() for c in out["classes"]} <= set(LABEL_NAMES)
    _, alone = session_run(version, "serving_default", {"text": texts[:1]})  # a batch of one empty string
    np.testing.assert_allclose(alone["probabilities"][0], out["probabilities"][0], atol=1e-6)


@pytest.mark.slow
def test_classify_signature_scores_tf_examples_like_predict(version):
    texts = [b"Shares rose", "Café 🙂".encode()]
    examples = np.array([bytes_example(text=[t]).SerializeToString() for t in texts], dtype=object)
    signature, out = session_run(version, "classify", {"inputs": examples})
    assert signature.method_name == "tensorflow/serving/classify"
    assert out["classes"].shape == (2, 5) and [c.decode() for c in out["classes"][0]] == list(LABEL_NAMES)
    _, predicted = session_run(version, "serving_default", {"text": np.array(texts, dtype=object)})
    np.testing.assert_allclose(out["scores"], predicted["probabilities"], atol=1e-6)


def test_listed_with_its_bar(capsys):
    assert main(["--list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("lstm "))
    assert "test_accuracy >= 0.96" in row and "BBC News" in row
    assert zoo.get_recipe("lstm").Config().pretrained_embeddings
