"""The base class's own decisions, without training: XLA choice, run directory, config type, identity."""

import pytest
import tensorflow as tf

import zoo
from zoo.data.mnist import load_mnist

CnnMnist = zoo.get_recipe("cnn_mnist")


def _compiled(config, strategy=None):
    recipe = CnnMnist(config, strategy=strategy)
    return recipe.compiled(lambda: recipe.build_model(load_mnist()), total_steps=10)


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


class LinearMnist(CnnMnist):
    """Not registered: it must not publish, nor resume, as cnn_mnist."""


def test_an_unregistered_subclass_has_a_name_and_run_directory_of_its_own():
    assert LinearMnist.name == "linear_mnist" and CnnMnist.name == "cnn_mnist"
    config = CnnMnist.Config(epochs=1)
    mine, parents = LinearMnist(config), CnnMnist(config)
    assert mine.run_dir.parts[:2] == ("runs", "linear_mnist")
    assert mine.config_digest() != parents.config_digest()  # same config, another class: another run


def test_a_class_whose_derived_name_belongs_to_a_registered_recipe_is_refused(tmp_path):
    class CnnMnist(zoo.get_recipe("cnn_mnist")):  # snake-cases to "cnn_mnist"
        pass

    with pytest.raises(zoo.errors.UsageError, match="belongs to recipes.cnn_mnist.CnnMnist; register it"):
        CnnMnist(CnnMnist.Config(epochs=1)).run(tmp_path)
    assert not any(tmp_path.iterdir())


def test_a_config_built_in_python_is_checked_like_set_values():
    with pytest.raises(zoo.errors.UsageError, match="batch_size=0 is out of range"):
        CnnMnist(CnnMnist.Config(batch_size=0))


def test_an_epoch_of_a_small_data_set_passes_over_it_until_min_epoch_examples(tmp_path):
    import numpy as np

    recipe = CnnMnist(CnnMnist.Config(batch_size=8, min_epoch_examples=35), run_dir=tmp_path)
    features, labels = np.arange(10 * 4, dtype=np.uint8).reshape(10, 2, 2), np.arange(10)
    assert recipe.passes_per_epoch(10) == 4 and recipe.passes_per_epoch(35) == 1
    seen = np.concatenate([batch[1].numpy() for batch in recipe.dataset(features, labels, training=True)])
    assert sorted(seen.tolist()) == sorted(list(range(10)) * 4)  # every example four times, in a shuffled order
    assert seen[:10].tolist() != list(range(10))
    evaluated = np.concatenate([batch[1].numpy() for batch in recipe.dataset(features, labels, training=False)])
    assert evaluated.tolist() == list(range(10))  # evaluation passes once, in order
