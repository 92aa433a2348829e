import importlib.metadata

import pytest

import zoo
from zoo import registry
from zoo.errors import UsageError
from zoo_subprocess import run_python


@pytest.fixture
def scratch_name():
    yield "scratch_recipe"
    registry.unregister("scratch_recipe")


BUILT_INS = ["autoencoder", "bert", "cnn_mnist", "electra", "kmeans", "lstm", "t5"]


def test_builtins_register_through_the_entry_point_group_as_plugins_do():
    entries = {entry.name: entry.value for entry in importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {name: entries.get(name) for name in BUILT_INS} == {name: f"recipes.{name}" for name in BUILT_INS}
    for name in BUILT_INS:
        assert zoo.get_recipe(name).__module__ == f"recipes.{name}" and zoo.get_recipe(name).name == name
    assert set(BUILT_INS) <= set(zoo.list_recipes())


def test_asking_for_one_recipe_imports_its_module_only(tmp_path):
    code = ("import sys, zoo; zoo.get_recipe('cnn_mnist'); "
            "print(sorted(m for m in sys.modules if m.startswith('recipes.')))")
    shown = run_python(["-c", code], cwd=tmp_path, timeout=120)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.split() == ["['recipes.cnn_mnist']"]


def test_unknown_recipe_names_the_known_ones():
    with pytest.raises(UsageError, match="unknown recipe 'nope'; known recipes: .*cnn_mnist"):
        zoo.get_recipe("nope")


def test_register_and_pattern_listing(scratch_name):
    @zoo.register(scratch_name)
    class Scratch(zoo.Recipe):
        pass

    assert zoo.get_recipe(scratch_name) is Scratch
    assert zoo.list_recipes("scratch_*") == [scratch_name]
    assert zoo.list_recipes("*mnist*") == ["cnn_mnist"]


def test_duplicate_name_is_an_error(scratch_name):
    @zoo.register(scratch_name)
    class First(zoo.Recipe):
        pass

    with pytest.raises(ValueError, match="already registered"):

        @zoo.register(scratch_name)
        class Second(zoo.Recipe):
            pass


def test_only_recipe_classes_and_clean_names():
    with pytest.raises(TypeError):
        zoo.register("not_a_recipe")(object)
    with pytest.raises(ValueError, match="lowercase"):
        zoo.register("Bad-Name")


def test_failing_recipe_module_names_it():
    with pytest.raises(UsageError, match="cannot import recipe module 'no_such_zoo_plugin'"):
        registry.load_module("no_such_zoo_plugin")
