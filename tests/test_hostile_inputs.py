"""Hostile checkpoints and config files, each through ``python -m zoo.run`` as a separate process: exit status 2,
one line on stderr naming the file (and the field), no traceback, nothing exported, and no time or memory spent
building what the input describes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from zoo_subprocess import run_python

FIXTURES = Path(__file__).parent / "fixtures"
SECONDS = 120  # each refusal comes before any model is built; a run that builds or expands would take longer


def refused(tmp_path: Path, args: list[str]) -> str:
    """``python -m zoo.run ARGS``: exit status 2, nothing exported; the one line it printed."""
    done = run_python(["-m", "zoo.run", *args, "--export-dir", str(tmp_path / "exports")], cwd=tmp_path,
                      timeout=SECONDS)
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "exports").exists()
    return lines[0]


def checkpoint_copy(tmp_path: Path, family: str, name: str, **config_changes) -> Path:
    """A copy of a test checkpoint with ``config.json`` fields replaced."""
    target = tmp_path / name
    shutil.copytree(FIXTURES / family / name, target)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, **config_changes}))
    return target


# ------------------------------------------------------------------------------------------ checkpoint configs
@pytest.mark.parametrize("recipe, family, name, changes, expected", [
    ("bert", "hf_encoders", "bert_mlm", {"hidden_size": "256"}, "hidden_size is '256', expected an integer >= 1"),
    ("bert", "hf_encoders", "bert_mlm", {"num_hidden_layers": -1}, "num_hidden_layers is -1, expected an integer >= 1"),
    ("bert", "hf_encoders", "bert_mlm", {"vocab_size": 10 ** 9},
     "'bert.embeddings.word_embeddings.weight' has shape"),
    ("electra", "hf_encoders", "electra_discriminator", {"max_position_embeddings": "512"},
     "max_position_embeddings is '512', expected an integer >= 1"),
    ("electra", "hf_encoders", "electra_discriminator", {"layer_norm_eps": 0},
     "layer_norm_eps is 0, expected a number > 0"),
    ("t5", "hf_t5", "t5_relu_tied", {"num_layers": -1}, "num_layers is -1, expected an integer >= 1"),
    ("t5", "hf_t5", "t5_relu_tied", {"d_model": 1.5}, "d_model is 1.5, expected an integer >= 1"),
    ("t5", "hf_t5", "t5_relu_tied", {"num_layers": 1000, "num_decoder_layers": 1000},
     "no tensor 'encoder.block.999.layer.0.SelfAttention.q.weight' (is config.json's layer count right?)"),
], ids=["bert-size-as-string", "bert-negative-layers", "bert-vocabulary-larger-than-its-weights",
        "electra-positions-as-string", "electra-zero-epsilon", "t5-negative-layers", "t5-fractional-width",
        "t5-more-layers-than-its-weights"])
def test_a_checkpoint_config_with_a_wrong_field_is_refused_before_anything_is_built(
        tmp_path, recipe, family, name, changes, expected):
    directory = checkpoint_copy(tmp_path, family, name, **changes)
    line = refused(tmp_path, [recipe, "--set", f"init={directory}", "--set", "epochs=0"])
    assert "config.json" in line or "model.safetensors" in line
    assert expected in line


def test_a_malformed_tokenizer_config_is_refused(tmp_path):
    directory = checkpoint_copy(tmp_path, "hf_encoders", "bert_mlm")
    (directory / "tokenizer_config.json").write_text('{"do_lower_case": tru')
    line = refused(tmp_path, ["bert", "--set", f"init={directory}", "--set", "epochs=0"])
    assert "tokenizer_config.json: not valid JSON" in line


def test_a_garbage_sentencepiece_model_is_refused(tmp_path):
    directory = checkpoint_copy(tmp_path, "hf_t5", "t5_relu_tied")
    (directory / "spiece.model").write_bytes(b"\x00garbage, not a protobuf\xff" * 10)
    line = refused(tmp_path, ["t5", "--set", f"init={directory}", "--set", "epochs=0"])
    assert "spiece.model: not a T5 SentencePiece model" in line


# ------------------------------------------------------------------------------------------------ config files
BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
)


@pytest.mark.parametrize("name, text, expected", [
    ("laughs.yaml", BILLION_LAUGHS, "line 2: YAML aliases (*a) are not accepted"),
    ("deep.yaml", "epochs: " + "[" * 50 + "]" * 50, "nests deeper than 8 levels"),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "cannot parse config file"),
    ("huge.yaml", "# padding\n" * 200_000, "a config is at most 1,000,000"),
], ids=["yaml-billion-laughs", "yaml-deep-nesting", "json-deep-nesting", "oversized-file"])
def test_a_config_file_that_would_exhaust_memory_is_refused_at_once(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    line = refused(tmp_path, ["cnn_mnist", "--config", str(path)])
    assert str(path) in line and expected in line


# ---------------------------------------------------------------------------------------------- odd arguments
@pytest.mark.parametrize("args, expected", [
    (["cnn_mnist", "--version", str(2**63)], "is not a version number (ASCII digits, at most 9223372036854775807)"),
    (["lstm", "--set", "data=tfds:../x"], "tfds has no dataset '../x'"),
    (["lstm", "--set", "data={tmp}/notes"], "a file without a suffix is not a data source"),
], ids=["version-beyond-int64", "tfds-name-with-a-path", "file-without-a-suffix-as-data"])
def test_an_odd_argument_is_refused(tmp_path, args, expected):
    (tmp_path / "notes").write_text("text,label\n")
    line = refused(tmp_path, [arg.format(tmp=tmp_path) for arg in args])
    assert expected in line
