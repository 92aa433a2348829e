"""``python -m zoo.run`` as a user runs it: exit codes, one-line errors, nothing written on a usage error."""

import math
import os
import shutil
import subprocess

import pytest

from zoo.run import main
from zoo_subprocess import PYTHON, TINY, env_with, run_python


def zoo_run(*args, cwd):
    return subprocess.run(
        [PYTHON, "-m", "zoo.run", *args], capture_output=True, text=True, cwd=cwd, env=env_with(), timeout=300
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["nope"], "unknown recipe 'nope'; known recipes: autoencoder, bert, cnn_mnist, electra, gpt2, kmeans, lstm, t5"),
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


# ---------------------------------------------------------------- declared ranges, checked before anything runs
def _numeric_keys():
    """(recipe, key, type name, interval, default) for every int/float key (tuples included) of every recipe."""
    import zoo
    from zoo.config import describe

    return [(name, k.name, k.type_name, k.within, k.default)
            for name in zoo.list_recipes() for k in describe(zoo.get_recipe(name).Config)
            if k.type_name in ("int", "float") or k.type_name.startswith(("tuple[int", "tuple[float", "list[int",
                                                                            "list[float"))]


def _past(interval, integer):
    """Values just outside ``interval`` on each finite side (the bound itself when the side is open)."""
    values = []
    if math.isfinite(interval.low):
        values.append(interval.low - 1 if interval.low_closed else interval.low)
    if math.isfinite(interval.high):
        values.append(interval.high + 1 if interval.high_closed else interval.high)
    return [int(v) if integer else v for v in values] + ([] if integer else [math.nan])


def _out_of_range_cases():
    cases = []
    for name, key, type_name, interval, default in _numeric_keys():
        for bad in [] if interval is None else _past(interval, integer="int" in type_name):
            value = ",".join(map(str, [bad, *default[1:]])) if isinstance(default, (tuple, list)) else str(bad)
            cases.append(pytest.param(name, key, value, id=f"{name}-{key}={value}"))
    return cases


@pytest.mark.parametrize("name,key,type_name,interval,default", _numeric_keys(),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_numeric_key_declares_the_interval_its_default_lies_in(name, key, type_name, interval, default):
    assert interval is not None, f"{name}.{key} declares no range: zoo.field(..., within='[low, high]')"
    assert all(interval.contains(v) for v in (default if isinstance(default, (tuple, list)) else [default]))


@pytest.mark.parametrize("name,key,value", _out_of_range_cases())
def test_a_value_past_a_declared_range_is_a_usage_error(tmp_path, monkeypatch, capsys, name, key, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    assert main([name, "--set", f"{key}={value}", "--export-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{key}=" in err and "out of range" in err, err
    assert list(tmp_path.iterdir()) == []


def test_help_shows_each_keys_range(capsys):
    assert main(["cnn_mnist", "--help"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
    assert "in [1, inf)" in lines["batch_size"] and "in [0, 1)" in lines["dropout"] and "in [0, inf)" in lines["epochs"]


# ------------------------------------------------ usage errors a real process reports before loading any data
def _zoo_run_isolated(args, cwd, *, prefix=()):
    """``python -m zoo.run ARGS`` in a clean environment whose cache directory is ``cwd/cache`` (initially
    absent, so it appears only if data is loaded)."""
    return subprocess.run([*prefix, PYTHON, "-m", "zoo.run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env_with(ZOO_CACHE_DIR=str(cwd / "cache")), stdin=subprocess.DEVNULL)


def _assert_usage_error(result, message, cwd, keep=()):
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    # nothing written: no runs/, no data cache (no data was loaded), nothing under the export dir
    assert sorted(p.name for p in cwd.iterdir()) == sorted(keep)


def test_an_out_of_range_value_from_a_real_process(tmp_path):
    result = _zoo_run_isolated(["cnn_mnist", "--set", "batch_size=0"], tmp_path)
    _assert_usage_error(result, "batch_size=0 is out of range: batch_size must be in [1, inf)", tmp_path)


@pytest.mark.parametrize(
    "args,message",
    [
        (["cnn_mnist", "--set", "dropout=1.5"], "dropout=1.5 is out of range: dropout must be in [0, 1)"),
        (["autoencoder", "--set", "filters=0,8"], "filters=0,8 is out of range: each value of filters must be in [1, inf)"),
        (["cnn_mnist", "--set", "epochs=-1"], "epochs=-1 is out of range: epochs must be in [0, inf)"),
        (["cnn_mnist", "--set", "learning_rate=nan"], "learning_rate=nan is out of range"),
        (["cnn_mnist", "--set", "batch_size=-1"], "batch_size=-1 is out of range"),
    ],
    ids=["dropout=1.5", "filters=0", "epochs=-1", "learning_rate=nan", "batch_size=-1"],
)
def test_the_issues_out_of_range_values(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    assert main([*args, "--export-dir", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_config_file_that_is_not_utf8_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_bytes("epochs: 2 # caf\u00e9\n".encode("latin-1"))
    assert main(["cnn_mnist", "--config", "c.yaml", "--export-dir", "out"]) == 2
    err = capsys.readouterr().err
    assert err == "zoo: error: config file c.yaml is not UTF-8 text (byte 0xe9 at offset 15)\n", err
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]


def test_an_export_dir_that_is_a_file_is_a_usage_error(tmp_path):
    (tmp_path / "out").write_text("not a directory")
    result = _zoo_run_isolated(["cnn_mnist", "--export-dir", "out"], tmp_path)
    _assert_usage_error(result, "export directory out is not a directory", tmp_path, ["out"])
    assert (tmp_path / "out").read_text() == "not a directory"


def test_a_version_like_name_that_is_not_ascii_digits_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "out" / "cnn_mnist" / "\u00b2").mkdir(parents=True)  # '²': str.isdigit() is True, int() refuses it
    assert main(["cnn_mnist", "--export-dir", "out"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds '\u00b2', which reads as a version number but is not one" in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out" / "cnn_mnist").iterdir()] == ["\u00b2"]


@pytest.mark.parametrize("version", ["\u00b2", "\u0663", "0"])
def test_version_flag_takes_a_positive_ascii_number(tmp_path, monkeypatch, capsys, version):
    monkeypatch.chdir(tmp_path)
    assert main(["cnn_mnist", "--version", version, "--export-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("is not a version number" in err or "must be an integer from 1 to" in err), err
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_export_dir_is_a_usage_error(tmp_path):
    """As root, permissions do not stop writes; run the child as an unprivileged user in a user namespace."""
    prefix = ()
    if os.geteuid() == 0:
        if shutil.which("unshare") is None or subprocess.run(
                ["unshare", "--user", "--map-user=1000", "--map-group=1000", "true"], capture_output=True).returncode:
            pytest.skip("running as root and cannot start an unprivileged user namespace (unshare)")
        prefix = ("unshare", "--user", "--map-user=1000", "--map-group=1000")
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = _zoo_run_isolated(["cnn_mnist", "--export-dir", "out"], tmp_path, prefix=prefix)
    finally:
        out.chmod(0o755)
    _assert_usage_error(result, "cannot write under out: it is read-only for this user", tmp_path, ["out"])
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------ a broken model is not published
@pytest.mark.slow
def test_a_run_that_diverges_to_nan_publishes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "models.config").write_text("model_config_list {}\n")
    args = ["cnn_mnist", *TINY, "--set", "max_examples=64", "--set", "jit_compile=false", "--set", "learning_rate=1e30"]
    result = run_python(["-m", "zoo.run", *args, "--export-dir", "out"], cwd=tmp_path, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last == "zoo: not exporting cnn_mnist: non-finite metrics (test_loss=nan); the training diverged", last
    assert "Traceback" not in result.stderr
    assert [p.name for p in out.iterdir()] == ["models.config"]
    assert (out / "models.config").read_text() == "model_config_list {}\n"
