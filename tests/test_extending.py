"""Extending the zoo without editing it: a subclass, an entry-point plugin, a ``--recipes`` module."""

from __future__ import annotations

import textwrap

import pytest

import zoo
from zoo.run import main as run_main
from zoo_subprocess import TINY, assert_serves_digits, only_version, run_python

# A cnn_mnist variant that swaps only the network (README "Extending").
TINY_NETWORK = '''
import keras
import zoo


class {cls}(zoo.get_recipe("cnn_mnist")):
    def build_model(self, splits):
        inputs = keras.Input(splits.feature_shape, dtype="uint8", name="images")
        x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
        classes = len(splits.label_names)
        return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax", name="probabilities")(x))
'''


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def _fake_distribution(site, name, entry_points):
    """An installed distribution as importlib.metadata sees it: a dist-info with METADATA and entry_points.txt."""
    info = site / f"{name}-0.1.dist-info"
    _write(info / "METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    _write(info / "entry_points.txt", "[zoo.recipes]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))


@pytest.mark.slow
def test_subclass_overriding_only_build_model_trains_and_exports(tmp_path):
    namespace = {}
    exec(TINY_NETWORK.format(cls="LinearCnn"), namespace)
    recipe_cls = namespace["LinearCnn"]
    config = recipe_cls.Config(epochs=1, max_examples=256, min_epoch_examples=0)
    result = recipe_cls(config, run_dir=tmp_path / "run").run(tmp_path / "export")
    version = only_version(tmp_path / "export", "linear_cnn")  # its own model directory, not cnn_mnist's
    assert result.export.path == version and not (tmp_path / "export" / "cnn_mnist").exists()
    import tensorflow as tf

    kernels = [v.shape.as_list() for v in tf.saved_model.load(str(version)).variables if len(v.shape) == 2]
    assert kernels == [[784, 10]]  # the subclass's network was exported, not cnn_mnist's
    assert_serves_digits(version)


@pytest.mark.slow
def test_entry_point_plugin_is_listed_and_runs(tmp_path):
    site = tmp_path / "site"
    _write(site / "linear_plugin.py", TINY_NETWORK.format(cls="LinearPlugin"))
    _fake_distribution(site, "zoo_linear_plugin", {"linear_plugin": "linear_plugin:LinearPlugin"})

    listed = run_python(["-m", "zoo.run", "--list"], cwd=tmp_path, timeout=120, paths=(site,))
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert any(line.split()[:1] == ["linear_plugin"] for line in listed.stdout.splitlines())

    run = run_python(["-m", "zoo.run", "linear_plugin", "--set", "epochs=1", "--set", "max_examples=256",
                      "--set", "min_epoch_examples=0", "--export-dir", str(tmp_path / "export")],
                     cwd=tmp_path, timeout=240, paths=(site,))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_serves_digits(only_version(tmp_path / "export", "linear_plugin"))


@pytest.mark.slow
def test_recipes_module_outside_the_repo_registers_and_runs(tmp_path):
    plugins = tmp_path / "plugins"
    _write(plugins / "my_recipes.py", TINY_NETWORK.format(cls="MyCnn") + '\n\nzoo.register("my_cnn")(MyCnn)\n')
    run = run_python(["-m", "zoo.run", "my_cnn", *TINY, "--recipes", "my_recipes",
                      "--export-dir", str(tmp_path / "export")], cwd=tmp_path, timeout=240, paths=(plugins,))
    assert run.returncode == 0, run.stderr[-3000:]
    assert_serves_digits(only_version(tmp_path / "export", "my_cnn"))


def _one_error_line(argv, capsys) -> str:
    """``python -m zoo.run ARGV`` in this process: exit status 2 and exactly one line on stderr."""
    assert run_main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_broken_entry_point_plugin_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    _write(site / "broken_plugin.py", "raise ImportError('needs a package that is not installed')\n")
    _fake_distribution(site, "zoo_broken_plugin", {"broken": "broken_plugin"})
    monkeypatch.syspath_prepend(str(site))
    line = _one_error_line(["--list"], capsys)
    assert "'broken'" in line and "broken_plugin" in line and "needs a package that is not installed" in line


def test_broken_recipes_module_is_a_one_line_usage_error(tmp_path, monkeypatch, capsys):
    _write(tmp_path / "typo_recipes.py", "import zoo\nzoo.registr('x')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    line = _one_error_line(["--list", "--recipes", "typo_recipes"], capsys)
    assert "'typo_recipes'" in line and "AttributeError" in line


def test_entry_point_class_is_registered_under_the_entry_point_name(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _write(site / "ep_class_plugin.py", TINY_NETWORK.format(cls="EpClass"))
    _fake_distribution(site, "zoo_ep_class_plugin", {"ep_class": "ep_class_plugin:EpClass"})
    monkeypatch.syspath_prepend(str(site))
    try:
        zoo.registry.load_plugins()
        assert zoo.get_recipe("ep_class").__name__ == "EpClass"
        assert zoo.get_recipe("ep_class").name == "ep_class"
    finally:
        zoo.registry.unregister("ep_class")
