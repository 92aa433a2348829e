"""The recipe registry: a name → class table.

Every recipe comes from the ``zoo.recipes`` entry-point group, the zoo's own included (its setup.cfg declares them
as any plugin package would), or from ``--recipes some.module``. An entry point names a module that registers its
recipes with ``@zoo.register``, or a class (``name = module:Class``), which is registered under the entry point's
name. A recipe's entry point is imported when that recipe is first asked for; :func:`list_recipes` imports them all.

Example:

>>> import zoo
>>> @zoo.register("my_doc_recipe")
... class MyRecipe(zoo.Recipe):
...     summary = "an example"
>>> zoo.get_recipe("my_doc_recipe") is MyRecipe
True
>>> zoo.list_recipes("my_doc_*")
['my_doc_recipe']
>>> zoo.registry.unregister("my_doc_recipe")
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import re
from typing import Callable, TypeVar

from zoo.errors import UsageError

ENTRY_POINT_GROUP = "zoo.recipes"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, type] = {}
_imported: set[str] = set()  # entry points imported, or being imported (a plugin may ask for a recipe it extends)

T = TypeVar("T", bound=type)


class UnknownRecipeError(UsageError, KeyError):
    """No recipe is registered under that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def register(name: str) -> Callable[[T], T]:
    """Class decorator: register a :class:`zoo.Recipe` subclass under ``name`` (lowercase, ``_``)."""
    if not _NAME.match(name):
        raise ValueError(f"recipe name {name!r} must be lowercase letters, digits and '_', starting with a letter")

    def decorator(cls: T) -> T:
        if not _is_recipe_class(cls):
            raise TypeError(f"@zoo.register({name!r}) takes a zoo.Recipe subclass, got {cls!r}")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"recipe {name!r} is already registered by {existing.__module__}.{existing.__qualname__}"
            )
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorator


def _is_recipe_class(cls: object) -> bool:
    """What the registry asks of a recipe class: a ``Config`` class and a ``run`` method, as every zoo.Recipe
    subclass has. It does not import zoo.recipe, which asks it who owns a name: no import circle."""
    return (isinstance(cls, type) and isinstance(getattr(cls, "Config", None), type)
            and callable(getattr(cls, "run", None)))


def registered(name: str) -> type | None:
    """The class registered under ``name`` (importing the entry point of that name), or None."""
    _import_entry_point(name)
    return _REGISTRY.get(name)


def imported_recipes() -> dict[str, type]:
    """The recipes registered so far, by name, importing nothing more (:func:`list_recipes` imports them all)."""
    return dict(_REGISTRY)


def unregister(name: str) -> None:
    """Remove a recipe (for tests and interactive sessions)."""
    _REGISTRY.pop(name, None)


def get_recipe(name: str) -> type:
    """The recipe class registered under ``name``; raises UnknownRecipeError naming the known ones."""
    _import_entry_point(name)
    if name not in _REGISTRY:  # a plugin module may register recipes under names other than its entry point's
        load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UnknownRecipeError(f"unknown recipe {name!r}; known recipes: {known}") from None


def list_recipes(pattern: str = "*") -> list[str]:
    """Registered recipe names matching a shell-style ``pattern``, sorted (``list_recipes("*bert*")``)."""
    load_plugins()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def load_module(module_name: str) -> None:
    """Import a module that registers recipes (``--recipes MODULE``); an import failure names the module."""
    try:
        importlib.import_module(module_name)
    except Exception as exc:
        raise UsageError(f"cannot import recipe module {module_name!r}: {type(exc).__name__}: {exc}") from None


def load_plugins() -> None:
    """Import every ``zoo.recipes`` entry point not imported yet."""
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        _load(entry)


def _import_entry_point(name: str) -> None:
    if name not in _REGISTRY:
        for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
            _load(entry)


def _load(entry: importlib.metadata.EntryPoint) -> None:
    if entry.name in _imported:
        return
    _imported.add(entry.name)
    try:
        loaded = entry.load()
    except Exception as exc:
        _imported.discard(entry.name)
        raise UsageError(
            f"recipe plugin {entry.name!r} ({entry.value}) failed to import: {type(exc).__name__}: {exc}"
        ) from None
    if isinstance(loaded, type) and loaded not in _REGISTRY.values():  # `name = module:Class`
        register(entry.name)(loaded)
