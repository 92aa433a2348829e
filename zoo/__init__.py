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

from zoo.config import RecipeConfig, field  # noqa: E402
from zoo.recipe import QualityBar, Recipe, Trained  # noqa: E402
from zoo.registry import get_recipe, list_recipes, register  # noqa: E402

__all__ = ["QualityBar", "Recipe", "RecipeConfig", "Trained", "field", "get_recipe", "list_recipes", "register"]
