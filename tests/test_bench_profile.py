"""``python -m bench.profile``: where a served call's time goes, op type by op type, in a SavedModel loaded as TF
Serving loads it; started as users start it, a separate process."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from bench import profile
from zoo_subprocess import run_python


class TextScorer(tf.Module):
    """Texts → a softmax over a product of their lengths with a weight: a string op, a matmul and a softmax."""

    def __init__(self):
        super().__init__()
        self.weights = tf.Variable(tf.ones([1, 3]))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def __call__(self, text):
        lengths = tf.cast(tf.strings.length(text), tf.float32)[:, tf.newaxis]
        return {"probabilities": tf.nn.softmax(tf.matmul(lengths, self.weights))}


@pytest.fixture(scope="module")
def version_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("profile") / "scorer" / "1"
    scorer = TextScorer()
    tf.saved_model.save(scorer, str(path), signatures={"serving_default": scorer.__call__})
    return path


def test_the_profile_finds_the_graphs_ops_by_category(version_dir, tmp_path):
    out = tmp_path / "profile.json"
    done = run_python(["-m", "bench.profile", str(version_dir), "--batch", "4", "--rounds", "2", "--json", str(out)],
                      cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["batch"] == 4 and len(result["wall_seconds_each"]) == 2 and result["wall_seconds"] > 0
    assert result["ops"]["MatMul"]["category"] == "matrix products" and result["ops"]["MatMul"]["runs"] == 1
    assert result["ops"]["Softmax"]["runs"] == 1 and result["ops"]["StringLength"]["runs"] == 1
    assert {"matrix products", "softmax", "tokenizer and string ops"} <= set(result["categories"])
    assert sum(entry["share_of_busy"] for entry in result["categories"].values()) == pytest.approx(1.0)
    assert "matrix products" in done.stdout and "MatMul" in done.stdout


@pytest.mark.parametrize("arguments, message", [
    (["--signature", "embed"], "has no signature 'embed'; it has serving_default"),
    (["--batch", "0"], "--batch and --rounds must be at least 1"),
])
def test_a_wrong_request_is_one_line_and_exit_status_2(version_dir, tmp_path, arguments, message):
    done = run_python(["-m", "bench.profile", str(version_dir), *arguments], cwd=tmp_path, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("python -m bench.profile: error: ")
    assert message in done.stderr.strip().splitlines()[-1]


def test_a_file_where_a_version_directory_goes_is_one_line(tmp_path):
    afile = tmp_path / "saved_model.pb"
    afile.write_text("not a model")
    done = run_python(["-m", "bench.profile", str(afile)], cwd=tmp_path, timeout=300)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"python -m bench.profile: error: {afile} is not an exported version (no saved_model.pb in it)"]


def test_op_types_fall_into_categories():
    assert profile.op_type("a/b = _MklEinsum(x, y)", "a/b") == "Einsum"
    assert profile.category("Cast") == "casts" and profile.category("Switch") == "loop and control flow"
    assert profile.category("SentencepieceTokenizeOp") == "tokenizer and string ops"
    assert profile.category("SomethingNew") == "other"
