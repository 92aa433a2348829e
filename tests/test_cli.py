"""``python -m zoo.run`` as a user runs it: exit codes, one-line errors, nothing written on a usage error."""

import os
import subprocess

import pytest

from conftest import PYTHON, zoo_env
from zoo.run import main


def zoo_run(*args, cwd):
    return subprocess.run(
        [PYTHON, "-m", "zoo.run", *args], capture_output=True, text=True, cwd=cwd, env=zoo_env(), timeout=300
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope"], "unknown recipe 'nope'; known recipes: autoencoder, bert, cnn_mnist, electra, kmeans, lstm, t5"),
        (["cnn_mnist", "--set", "epochs=abc"], "bad value for 'epochs': 'abc' is not a valid int"),
        (["cnn_mnist", "--set", "epoch=3"], "unknown config key 'epoch'"),
        (["cnn_mnist", "--set", "epochs"], "--set takes KEY=VALUE"),
        (["cnn_mnist", "--config", "missing.yaml"], "config file not found"),
        (["cnn_mnist", "--strategy", "tpu"], "invalid choice: 'tpu'"),
        (["cnn_mnist", "--recipes", "no_such_module"], "cannot import recipe module 'no_such_module'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        ([], "name a recipe, or use --list"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--export-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []  # no export dir, no runs/ dir


@pytest.mark.parametrize("args,message", [(["nope"], "cnn_mnist"), (["cnn_mnist", "--set", "epochs=abc"], "epochs")])
def test_usage_errors_from_a_real_process(tmp_path, args, message):
    result = zoo_run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


def test_existing_version_is_refused_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "cnn_mnist" / "3").mkdir(parents=True)
    assert main(["cnn_mnist", "--version", "3", "--export-dir", str(tmp_path / "out")]) == 2
    assert "versions are never overwritten" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_list_and_recipe_help(capsys):
    assert main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert "cnn_mnist" in listing and "test_accuracy >= 0.994" in listing
    assert main(["cnn_mnist", "--help"]) == 0
    help_text = capsys.readouterr().out
    for key in ("epochs", "batch_size", "learning_rate", "seed", "max_examples", "max_degrees"):
        assert f"  {key} " in help_text
    assert "default 7" in help_text
