"""The exporter: atomic versions, the validation gate, warmup requests, model card, models.config."""

import json
import signal
import subprocess
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from conftest import make_half_plus_two
from zoo_subprocess import PYTHON, REPO, env_with
from zoo.errors import ExportError
from zoo.export import Endpoint, Servable, export
from zoo.export.gate import check_ops, run_gate
from zoo.export.model_card import read_model_card
from zoo.export.models_config import parse_models_config
from zoo.export.signatures import CLASSIFY, GateTolerance, example_classifier, int64_example
from zoo.export.versions import existing_versions, publish
from zoo.export.warmup import WARMUP_FILE, read_warmup

CARD = {"config": {"epochs": 1}, "metrics": {"test_accuracy": 0.5}, "data": {"source": "toy", "sha256": None}}


def _export(servable, root, **kwargs):
    return export(servable, model_name="half_plus_two", export_root=root, card=CARD, **kwargs)


def test_export_layout_warmup_card_and_models_config(tmp_path, half_plus_two):
    result = _export(half_plus_two, tmp_path)
    version_dir = tmp_path / "half_plus_two" / "1"
    assert result.path == version_dir and result.version == 1
    assert (version_dir / "saved_model.pb").is_file() and (version_dir / "variables").is_dir()
    logs = list(read_warmup(version_dir / "assets.extra" / WARMUP_FILE))
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"]
    np.testing.assert_array_equal(tf.make_ndarray(logs[0].predict_log.request.inputs["x"]), [1.0, 2.0, 5.0])
    card = read_model_card(version_dir)
    assert card["recipe"] == "half_plus_two" and card["version"] == 1 and card["metrics"] == {"test_accuracy": 0.5}
    assert card["libraries"]["tensorflow"].startswith("2.")
    assert card["signatures"]["serving_default"]["inputs"]["x"] == {"dtype": "float32", "shape": [-1]}
    config = parse_models_config((tmp_path / "models.config").read_text())
    assert [(c.name, c.base_path) for c in config.model_config_list.config] == [("half_plus_two", "/models/half_plus_two")]
    assert result.gate.signatures_run == {"serving_default": 1}


def test_versions_increase_and_are_never_overwritten(tmp_path, half_plus_two):
    assert _export(half_plus_two, tmp_path).version == 1
    assert _export(half_plus_two, tmp_path).version == 2
    before = (tmp_path / "half_plus_two" / "1" / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(ExportError, match="already exists; versions are never overwritten"):
        _export(half_plus_two, tmp_path, version=1)
    assert (tmp_path / "half_plus_two" / "1" / "saved_model.pb").stat().st_mtime_ns == before
    assert _export(half_plus_two, tmp_path, version=7).version == 7
    assert existing_versions(tmp_path / "half_plus_two") == [1, 2, 7]


def test_failed_write_publishes_nothing(tmp_path):
    def write(directory, version):
        (directory / "saved_model.pb").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish(tmp_path / "m", None, write)
    assert list((tmp_path / "m").iterdir()) == []


def test_sigkill_during_export_leaves_no_visible_version(tmp_path):
    """Kill -9 an export while it writes (inside the gate); TF Serving must see no version, and the next export cleans up."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO / "tests")!r})
        from conftest import make_half_plus_two
        import zoo.export as export_module
        def stall(*args, **kwargs):
            print("IN_GATE", flush=True)
            time.sleep(120)
        export_module.run_gate = stall
        export_module.export(make_half_plus_two(), model_name="half_plus_two", export_root={str(tmp_path)!r}, card={{}})
        """
    )
    child = subprocess.Popen([PYTHON, "-c", script], stdout=subprocess.PIPE, text=True, env=env_with())
    try:
        for line in child.stdout:
            if "IN_GATE" in line:
                break
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    model_dir = tmp_path / "half_plus_two"
    leftovers = [p.name for p in model_dir.iterdir()]
    assert existing_versions(model_dir) == [] and all(name.startswith(".tmp-") for name in leftovers) and leftovers
    assert not (tmp_path / "models.config").exists()
    result = _export(make_half_plus_two(), tmp_path)
    assert result.version == 1 and [p.name for p in model_dir.iterdir()] == ["1"]


def test_gate_refuses_py_function_and_says_why(tmp_path):
    servable = Servable(
        tracked=[],
        endpoints={
            "serving_default": Endpoint(
                fn=lambda x: {"y": tf.py_function(lambda a: a * 2.0, [x], tf.float32)},
                input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
                warmup={"x": np.array([1.0], np.float32)},
            )
        },
    )
    with pytest.raises(ExportError, match=r"calls back into Python \(EagerPyFunc.*TF Serving cannot run it"):
        export(servable, model_name="pyfunc", export_root=tmp_path, card=CARD)
    assert existing_versions(tmp_path / "pyfunc") == []
    assert not (tmp_path / "models.config").exists()


def test_check_ops_names_unknown_ops():
    assert check_ops({"MatMul", "Placeholder", "FastWordpieceTokenizeWithOffsets"}) == []
    assert "NotARealOp" in check_ops({"MatMul", "NotARealOp"})[0]


def test_gate_detects_served_outputs_that_differ_from_memory(tmp_path, half_plus_two):
    path = _export(half_plus_two, tmp_path).path
    wrong = {"serving_default": lambda x: {"y": 0.5 * x + 2.5}}
    with pytest.raises(ExportError, match="max abs difference 0.5"):
        run_gate(path, wrong)


def _token_ids_export(root):
    """An export whose ``serving_default`` answers four integer ids, [2, 3, 4, 5] for its warmup request."""
    servable = Servable(tracked=[], endpoints={"serving_default": Endpoint(
        fn=lambda x: {"token_ids": x + 1}, input_signature=[tf.TensorSpec([None], tf.int32, name="x")],
        warmup={"x": np.array([1, 2, 3, 4], np.int32)})})
    return export(servable, model_name="ids", export_root=root, card=CARD).path


def test_gate_bounds_the_share_of_discrete_values_that_differ(tmp_path):
    path = _token_ids_export(tmp_path)
    one_of_four_differs = {"serving_default": lambda x: {"token_ids": tf.where(x == 4, 0, x + 1)}}
    with pytest.raises(ExportError, match=r"serving_default/token_ids: served values differ from in-memory values: "
                                          r"75\.0% equal$"):
        run_gate(path, one_of_four_differs)
    report = run_gate(path, one_of_four_differs, GateTolerance(agreement=0.75))
    assert report.least_agreement == 0.75
    with pytest.raises(ExportError, match=r"75\.0% equal \(bound 80%\)$"):
        run_gate(path, one_of_four_differs, GateTolerance(agreement=0.8))
    assert run_gate(path, {"serving_default": lambda x: {"token_ids": x + 1}}).least_agreement == 1.0


def test_gate_requires_a_warmup_request_per_signature(tmp_path, half_plus_two):
    path = _export(half_plus_two, tmp_path).path
    (path / "assets.extra" / WARMUP_FILE).write_bytes(b"")
    with pytest.raises(ExportError, match="signature 'serving_default' has no warmup request"):
        run_gate(path, {"serving_default": lambda x: {"y": 0.5 * x + 2.0}})


def test_gate_rejects_malformed_warmup(tmp_path, half_plus_two):
    path = _export(half_plus_two, tmp_path).path
    (path / "assets.extra" / WARMUP_FILE).write_bytes(b"not a tfrecord at all")
    with pytest.raises(ExportError, match="warmup file is malformed"):
        run_gate(path, {"serving_default": lambda x: {"y": 0.5 * x + 2.0}})


def test_classify_signature_gets_tf_serving_method_and_classify_warmup(tmp_path):
    def scores(features):
        x = tf.cast(features["x"], tf.float32)
        return tf.nn.softmax(tf.concat([x, -x], axis=1))

    servable = make_half_plus_two()
    servable.endpoints["classify"] = example_classifier(
        {"x": tf.io.FixedLenFeature([1], tf.int64)}, scores, ["pos", "neg"], [int64_example(x=[2]), int64_example(x=[-1])]
    )
    result = _export(servable, tmp_path)
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel.FromString((result.path / "saved_model.pb").read_bytes())
    assert saved.meta_graphs[0].signature_def["classify"].method_name == CLASSIFY
    kinds = sorted(log.WhichOneof("log_type") for log in read_warmup(result.path / "assets.extra" / WARMUP_FILE))
    assert kinds == ["classify_log", "predict_log"]
    assert result.gate.signatures_run == {"serving_default": 1, "classify": 1}
    assert json.loads((result.path / "assets.extra" / "zoo.json").read_text())["signatures"]["classify"]["method"] == CLASSIFY


def test_endpoint_checks_its_own_shape():
    with pytest.raises(ValueError, match="must match"):
        Endpoint(fn=lambda x: {}, input_signature=[tf.TensorSpec([None], tf.float32, name="x")], warmup={})
    with pytest.raises(ValueError, match="serving_default"):
        Servable(tracked=[], endpoints={})


def test_warmup_records_are_prediction_logs(tmp_path, half_plus_two):
    path = _export(half_plus_two, tmp_path).path
    raw = list(tf.data.TFRecordDataset(str(path / "assets.extra" / WARMUP_FILE)).as_numpy_iterator())
    assert len(raw) == 1
    assert prediction_log_pb2.PredictionLog.FromString(raw[0]).predict_log.request.model_spec.name == "half_plus_two"


def test_gate_refuses_nan_or_infinite_outputs_on_the_warmup_replay(tmp_path):
    servable = Servable(
        tracked=[],
        endpoints={
            "serving_default": Endpoint(
                fn=lambda x: {"y": tf.math.log(x - 2.0)},  # log(-1) = NaN, log(0) = -inf, log(3) is finite
                input_signature=[tf.TensorSpec([None], tf.float32, name="x")],
                warmup={"x": np.array([1.0, 2.0, 5.0], np.float32)},
            )
        },
    )
    with pytest.raises(ExportError, match=r"^export failed the validation gate: serving_default/y: 2 of 3 values "
                                          r"are NaN or infinite on the warmup requests$"):
        export(servable, model_name="diverged", export_root=tmp_path, card=CARD)
    assert existing_versions(tmp_path / "diverged") == []
    assert not (tmp_path / "models.config").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_metrics_stop_the_export_before_anything_is_written(tmp_path, half_plus_two, value):
    card = {**CARD, "metrics": {"test_accuracy": 0.1, "test_loss": value}}
    with pytest.raises(ExportError, match=rf"non-finite metrics \(test_loss={value}\); the training diverged"):
        export(half_plus_two, model_name="half_plus_two", export_root=tmp_path, card=card)
    assert list(tmp_path.iterdir()) == []
