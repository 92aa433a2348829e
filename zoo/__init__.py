"""zoo: TensorFlow/Keras recipes that train on real data and export SavedModels TF Serving serves as they are.

Example:

>>> import zoo
>>> "cnn_mnist" in zoo.list_recipes()
True
>>> zoo.get_recipe("cnn_mnist").Config().epochs > 0
True
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off the console

from zoo.quiet import import_tensorflow_quietly  # noqa: E402

import_tensorflow_quietly()

from zoo.config import (  # noqa: E402
    ImageClassifierConfig, ImageDataConfig, PairDataConfig, RecipeConfig, TextClassifierConfig, TextDataConfig, field,
)
from zoo.recipe import QualityBar, Recipe, Trained  # noqa: E402
from zoo.registry import get_recipe, list_recipes, register  # noqa: E402

__all__ = ["ImageClassifierConfig", "ImageDataConfig", "PairDataConfig", "QualityBar", "Recipe", "RecipeConfig",
           "TextClassifierConfig", "TextDataConfig", "Trained", "field", "get_recipe", "list_recipes", "register"]
