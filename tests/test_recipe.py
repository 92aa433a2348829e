"""The base class's own decisions, without training: XLA choice, run directory, config type."""

import pytest
import tensorflow as tf

import zoo

CnnMnist = zoo.get_recipe("cnn_mnist")


def _compiled(config, strategy=None):
    recipe = CnnMnist(config, strategy=strategy)
    with recipe.strategy.scope():
        model = recipe.build_model()
        recipe.compile_model(model, total_steps=10)
    return model


def test_xla_follows_the_config():
    assert _compiled(CnnMnist.Config(jit_compile=True, filters=4)).jit_compile is True
    assert _compiled(CnnMnist.Config(jit_compile=False, filters=4)).jit_compile is False


def test_xla_stays_off_with_determinism_and_under_a_strategy():
    assert _compiled(CnnMnist.Config(jit_compile=True, deterministic=True, filters=4)).jit_compile is False
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert _compiled(CnnMnist.Config(jit_compile=True, filters=4), strategy=mirrored).jit_compile is False


def test_run_dir_is_a_hash_of_the_config():
    a, b = CnnMnist(CnnMnist.Config(epochs=1)), CnnMnist(CnnMnist.Config(epochs=1))
    c = CnnMnist(CnnMnist.Config(epochs=2))
    assert a.run_dir == b.run_dir != c.run_dir
    assert a.run_dir.parts[:2] == ("runs", "cnn_mnist")


def test_recipe_refuses_another_recipes_config():
    with pytest.raises(TypeError, match="CnnMnistConfig"):
        CnnMnist(zoo.RecipeConfig())
