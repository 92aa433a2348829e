"""``--set precision=bfloat16``: bert, electra and lstm export in bfloat16 through the CLI, pass the gate, record what
they lost in the model card and serve float32 outputs through ``python -m zoo.serve``; beyond a loss bound, or with
an unknown value, the run stops with one line (exit status 2) and publishes nothing. The generators (t5, gpt2) export
in bfloat16 too, their card reporting token agreement with float32 and their own test metrics; t5's ``generate``
answers through ``python -m zoo.serve`` beside lstm's classifier."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2

import zoo
from serve_support import post_json, serve_process
from zoo.export import precision
from zoo.export.session import SessionModel
from zoo.run import main
from zoo_subprocess import run_python, set_options

# electra's and bert's own tiny runs predict near-uniform probabilities, whose near ties bfloat16 flips (refused,
# rightly: bert's flipped 1 of its 16 test rows once); a higher learning rate and more epochs make bert's decided.
# electra's tiny run stays near chance (test accuracy 0.21-0.38) and flipped 1 of its 24 test rows in a suite run on
# a machine with AMX (4.2%, over the 1% bound): with 120 test rows one such flip is 0.8%, inside the bound
BFLOAT16_RUNS = {
    "bert": {**zoo.get_recipe("bert").tiny, "learning_rate": 2e-4, "epochs": 3},
    "electra": {**zoo.get_recipe("electra").tiny, "learning_rate": 1e-2, "epochs": 4, "max_examples": 120},
    "lstm": zoo.get_recipe("lstm").tiny,
}
ENCODERS = ("bert", "electra")  # they have an embed signature
GENERATORS = {"t5": "test_exact_match", "gpt2": "test_perplexity"}  # and the test metric each card repeats


@pytest.fixture(scope="module")
def bfloat16_exports(tmp_path_factory):
    """The export folder, and ``run(name)``: bert, electra or lstm (tiny) through ``python -m zoo.run ... --set
    precision=bfloat16``, run once, by the first test that asks (so each run counts against one test's timeout)."""
    root = tmp_path_factory.mktemp("bfloat16")
    export_dir = root / "saved_models"
    runs = {}

    def run(name):
        if name not in runs:
            tiny = BFLOAT16_RUNS.get(name) or zoo.get_recipe(name).tiny
            args = ["-m", "zoo.run", name, *set_options({**tiny, "precision": "bfloat16"}),
                    "--export-dir", str(export_dir)]
            runs[name] = run_python(args, cwd=root, timeout=900)
        return runs[name]

    return export_dir, run


def exported(bfloat16_exports, name):
    """The finished ``python -m zoo.run NAME ... precision=bfloat16`` (which must have succeeded), its version
    directory and its model card."""
    export_dir, run = bfloat16_exports
    done = run(name)
    assert done.returncode == 0, done.stderr[-3000:]
    version = export_dir / name / "1"
    return done, version, json.loads((version / "assets.extra" / "zoo.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BFLOAT16_RUNS))
def test_bfloat16_export_passes_the_gate_and_its_card_says_what_it_lost(bfloat16_exports, name):
    done, version, card = exported(bfloat16_exports, name)
    section = card["precision"]
    assert card["config"]["precision"] == section["dtype"] == "bfloat16"
    assert section["keras_policy"] == "mixed_bfloat16" and section["test_rows"] == card["data"]["rows"]["test"]
    assert 0.0 <= section["class_changes"] <= precision.MAX_CLASS_CHANGES
    assert 0.0 <= section["test_accuracy"] <= 1.0 and "test_accuracy" in card["metrics"]  # beside float32's
    if name in ENCODERS:
        assert precision.MIN_EMBEDDING_COSINE <= section["min_embedding_cosine"] <= 1.0 + 1e-6
    else:
        assert "min_embedding_cosine" not in section
    assert "precision dtype bfloat16" in done.stdout
    with SessionModel(version) as model:  # as TF Serving loads it: bfloat16 math inside, float32 out
        assert_bfloat16_math_and_no_bfloat16_output(model)
        out = model.run("serving_default", {"text": np.array([b"Shares rose", b"A late goal"], object)})
    assert out["probabilities"].dtype == np.float32 and np.isfinite(out["probabilities"]).all()


def assert_bfloat16_math_and_no_bfloat16_output(model: SessionModel) -> None:
    graph = model.meta_graph.graph_def
    inside = {node.op for function in graph.library.function for node in function.node_def
              if any(value.type == types_pb2.DT_BFLOAT16 for value in node.attr.values())}
    assert {"MatMul", "BatchMatMulV2", "Einsum"} & inside, sorted(inside)
    for signature in model.signature_defs.values():
        assert all(tensor.dtype != types_pb2.DT_BFLOAT16 for tensor in signature.outputs.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_bfloat16_generator_reports_token_agreement_and_its_own_test_metric(bfloat16_exports, name):
    _, version, card = exported(bfloat16_exports, name)
    section, metric = card["precision"], GENERATORS[name]
    assert section["dtype"] == "bfloat16" and section["test_rows"] == card["data"]["rows"]["test"]
    assert 0.0 <= section["identical_generations"] <= section["token_agreement"] <= 1.0
    assert np.isfinite(section[metric]) and metric in card["metrics"]  # beside float32's
    if metric == "test_perplexity":  # same tokens, slightly different arithmetic
        assert section[metric] == pytest.approx(card["metrics"][metric], rel=0.05)
    with SessionModel(version) as model:
        assert_bfloat16_math_and_no_bfloat16_output(model)
        out = model.run("serving_default", {"text": np.array([b"Shares rose", b"A late goal"], object)})
    assert out["token_ids"].shape[0] == 2 and out["token_ids"].dtype == np.int32


@pytest.mark.slow
def test_bfloat16_classifier_and_generator_answer_through_zoo_serve(bfloat16_exports):
    export_dir, run = bfloat16_exports
    for name in ("lstm", "t5"):
        done = run(name)
        assert done.returncode == 0, done.stderr[-3000:]
    with serve_process(export_dir) as server:
        status, body = post_json(f"{server.rest_url}/v1/models/lstm:predict",
                                 {"instances": ["Shares rose after profits beat forecasts", "A late goal won it"]})
        generated_status, generated = post_json(f"{server.rest_url}/v1/models/t5:predict", {
            "signature_name": "generate", "inputs": {
                "text": ["Shares rose after profits beat forecasts"], "max_new_tokens": 4, "num_beams": 2,
                "do_sample": False, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 0, "num_return_sequences": 1}})
    assert status == 200, body
    rows = body["predictions"]
    assert len(rows) == 2 and all(len(row["probabilities"]) == 5 for row in rows)
    np.testing.assert_allclose([sum(row["probabilities"]) for row in rows], 1.0, atol=1e-2)
    assert generated_status == 200, generated
    outputs = generated["outputs"]  # one text, one sequence, at most 4 tokens, its beam's score a finite float
    assert np.array(outputs["token_ids"]).shape == (1, 1, 4) and len(outputs["texts"]) == 1
    assert np.isfinite(outputs["scores"]).all()


@pytest.mark.slow
def test_an_encoder_below_the_cosine_bound_is_refused_with_one_line(tmp_path, monkeypatch, capsys):
    # the real bound is 0.99; bfloat16 embeddings are never exactly float32's, so at 1.0 the measured cosine fails it
    monkeypatch.setattr(precision, "MIN_EMBEDDING_COSINE", 1.0)
    # and the class bound, judged first, is lifted: this tiny model's near ties flipped 1 of its 24 test rows once
    monkeypatch.setattr(precision, "MAX_CLASS_CHANGES", 1.0)
    monkeypatch.chdir(tmp_path)
    overrides = set_options({**BFLOAT16_RUNS["electra"], "precision": "bfloat16"})
    assert main(["electra", *overrides, "--export-dir", "saved_models"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("zoo: error: not exporting electra at precision=bfloat16: the least embedding cosine "
                            "to float32 over the ") and error.endswith("(bound 1.0); keep precision=float32"), error
    assert not (tmp_path / "saved_models" / "electra").exists()


def test_an_unknown_precision_is_a_one_line_usage_error(tmp_path, capsys):
    assert main(["lstm", "--set", "precision=int8", "--export-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "zoo: error: precision='int8': choose one of float32, bfloat16"]
    assert list(tmp_path.iterdir()) == []


def test_class_changes_beyond_one_percent_are_refused():
    float32 = {"classes": np.array([b"a"] * 100, dtype=object)}
    one_change, two_changes = ({"classes": np.array([b"b"] * n + [b"a"] * (100 - n), dtype=object)} for n in (1, 2))
    section = precision.judged("bfloat16", float32, one_change, np.zeros(100, int), ("a", "b"), "toy")
    assert section["class_changes"] == 0.01 and section["test_accuracy"] == 0.99
    with pytest.raises(precision.PrecisionLossError, match=r"changes on 2\.00% of the 100 test rows \(bound 1%\)"):
        precision.judged("bfloat16", float32, two_changes, np.zeros(100, int), ("a", "b"), "toy")


def test_a_generator_is_reported_not_bounded():
    float32 = {"token_ids": np.array([[5, 6, 1, 0], [7, 7, 7, 1]], np.int32)}
    low = {"token_ids": np.array([[5, 6, 1, 0], [7, 8, 8, 8]], np.int32)}  # the second row parts at its second token
    section = precision.judged("bfloat16", float32, low, None, (), "toy")
    assert section["token_agreement"] == 5 / 8 and section["identical_generations"] == 0.5
    assert "class_changes" not in section


def test_min_cosine_below_the_bound_is_refused():
    rows = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    turned = np.array([[1.0, 0.0], [0.2, 1.0]], np.float32)  # cosine 0.98 on the second row
    with pytest.raises(precision.PrecisionLossError, match=r"least embedding cosine .* is 0\.9806 \(bound 0\.99\)"):
        precision.judged("bfloat16", {"embeddings": rows}, {"embeddings": turned}, None, (), "toy")


def test_the_layers_compute_in_bfloat16_only_inside_the_block():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.LayerNormalization()])
    x = tf.constant([[1.0, 2.0, 3.0]])
    before, weights = model(x), [w.numpy() for w in model.weights]
    with precision.computing_in("bfloat16", [model]):
        inside = model(x)
        # the dense kernel and bias held in bfloat16 (no cast where they are read); the norm's scale and offset not
        assert inside.dtype == tf.bfloat16
        assert [(w.name, w.dtype) for w in model.weights] == [
            ("kernel", "bfloat16"), ("bias", "bfloat16"), ("gamma", "float32"), ("beta", "float32")]
        graph = tf.function(model).get_concrete_function(tf.TensorSpec([None, 3], tf.float32)).graph
        assert not [op for op in graph.get_operations() if op.type == "Cast" and "ReadVariableOp" in op.inputs[0].name
                    and op.outputs[0].dtype == tf.bfloat16]
    assert model.layers[0].compute_dtype == "float32" and all(w.dtype == "float32" for w in model.weights)
    for weight, value in zip(model.weights, weights):
        np.testing.assert_array_equal(weight.numpy(), value)
    np.testing.assert_array_equal(model(x), before)
    np.testing.assert_allclose(tf.cast(inside, tf.float32), before, rtol=2 ** -7, atol=2 ** -7)


def test_a_dense_layers_activation_stays_in_float32_inside_the_block():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="gelu")])
    gelu = model.layers[0].activation
    with precision.computing_in("bfloat16", [model]):
        graph = tf.function(model).get_concrete_function(tf.TensorSpec([None, 3], tf.float32)).graph
        erfc = [op for op in graph.get_operations() if op.type in ("Erf", "Erfc")]
        assert erfc and all(op.inputs[0].dtype == tf.float32 for op in erfc)
        assert any(op.type == "MatMul" and op.outputs[0].dtype == tf.bfloat16 for op in graph.get_operations())
    assert model.layers[0].activation is gelu
