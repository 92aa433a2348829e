"""zoo: TensorFlow/Keras recipes that train on real data and export SavedModels TF Serving serves as they are.

Importing ``zoo`` imports no TensorFlow: ``Recipe`` and ``Trained`` (and with them TensorFlow, quietly) are
imported when first used, so ``python -m zoo.run --list`` answers at once.

Example:

>>> import zoo
>>> "cnn_mnist" in zoo.list_recipes()
True
>>> zoo.get_recipe("cnn_mnist").Config().epochs > 0
True
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off the console

from zoo.quiet import install_quiet_tensorflow_import  # noqa: E402

install_quiet_tensorflow_import()

from zoo.bars import QualityBar  # noqa: E402
from zoo.config import (  # noqa: E402
    GenerationConfig, ImageClassifierConfig, ImageDataConfig, PairDataConfig, RecipeConfig, TextClassifierConfig, TextDataConfig, field,
)
from zoo.registry import get_recipe, list_recipes, register  # noqa: E402

_FROM_RECIPE = ("Recipe", "Trained")  # zoo.recipe imports TensorFlow


def __getattr__(name: str):
    if name in _FROM_RECIPE:
        import zoo.recipe

        return getattr(zoo.recipe, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = ["GenerationConfig", "ImageClassifierConfig", "ImageDataConfig", "PairDataConfig", "QualityBar", "Recipe", "RecipeConfig",
           "TextClassifierConfig", "TextDataConfig", "Trained", "field", "get_recipe", "list_recipes", "register"]
