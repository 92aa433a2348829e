import pytest

import zoo
from zoo import registry
from zoo.errors import UsageError


@pytest.fixture
def scratch_name():
    yield "scratch_recipe"
    registry.unregister("scratch_recipe")


def test_builtins_are_registered_explicitly():
    assert "cnn_mnist" in zoo.list_recipes()
    assert zoo.get_recipe("cnn_mnist").name == "cnn_mnist"


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
