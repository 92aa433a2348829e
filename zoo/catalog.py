"""What each recipe says about itself (summary, data, quality bars), for ``python -m zoo.run --list``.

A recipe module imports Keras and with it TensorFlow (seconds). Listing recipes should not, so a recipe's card is
read from the source of its entry point's module when the class states these attributes plainly: string
literals and ``QualityBar(...)`` calls with literal arguments, in its own body or in base classes that can be read
the same way. A recipe that computes them, or is registered by a module rather than a class, is imported and
asked; a recipe already imported is always asked. Both roads give the same card (tests/test_catalog.py holds it
for every built-in recipe).

Example:

>>> card = next(c for c in recipe_cards() if c.name == "cnn_mnist")
>>> card.bars
(QualityBar(metric='test_accuracy', op='>=', value=0.994),)
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import importlib.metadata
import importlib.util
from pathlib import Path

from zoo import registry
from zoo.bars import QualityBar

#: The attributes a card holds, with the defaults ``zoo.Recipe`` gives them.
CARD_DEFAULTS = {"summary": "", "data_summary": "", "bars": ()}
#: Where ``zoo.Recipe`` may be imported from; a base class resolved to one of these ends the search.
_RECIPE_BASE = {("zoo", "Recipe"), ("zoo.recipe", "Recipe")}


@dataclasses.dataclass(frozen=True)
class RecipeCard:
    """One row of ``--list``."""

    name: str
    summary: str
    data_summary: str
    bars: tuple[QualityBar, ...]

    @classmethod
    def of(cls, recipe: type) -> RecipeCard:
        """The card of an imported recipe class."""
        return cls(recipe.name, recipe.summary, recipe.data_summary, tuple(recipe.bars))


class _Unreadable(Exception):
    """The source does not state the card plainly; import the recipe instead."""


def recipe_cards(pattern: str = "*") -> list[RecipeCard]:
    """Cards of every recipe whose name matches ``pattern``, sorted by name, importing only what it must."""
    entries = {e.name: e for e in importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP)}
    cards = {name: RecipeCard.of(cls) for name, cls in registry.imported_recipes().items()}
    for name, entry in entries.items():
        if name not in cards:
            cards[name] = card_from_source(name, entry.value) or RecipeCard.of(registry.get_recipe(name))
    return [cards[name] for name in sorted(cards) if fnmatch.fnmatchcase(name, pattern)]


def card_from_source(name: str, value: str) -> RecipeCard | None:
    """The card of the recipe entry point ``name = value`` (``module`` or ``module:Class``) read from its source
    without importing it; None when the source does not state it plainly."""
    module, _, class_name = (part.strip() for part in value.partition(":"))
    try:
        class_name = class_name or _registered_class_name(module, name)
        attributes = _class_attributes(module, class_name, depth=0)
    except (_Unreadable, ImportError, OSError, SyntaxError, ValueError):
        return None
    return RecipeCard(name, **{key: attributes.get(key, default) for key, default in CARD_DEFAULTS.items()})


def _registered_class_name(module: str, name: str) -> str:
    """The class ``module`` registers as ``name`` with ``@zoo.register(name)`` (a module entry point)."""
    for node in _module_tree(module).body:
        if isinstance(node, ast.ClassDef) and any(
            isinstance(d, ast.Call) and ast.unparse(d.func) in ("register", "zoo.register")
            and [ast.literal_eval(a) for a in d.args] == [name] for d in node.decorator_list
        ):
            return node.name
    raise _Unreadable(f"{module} registers no class as {name!r} in a way its source shows")


def _class_attributes(module: str, class_name: str, depth: int) -> dict:
    """The card attributes class ``module.class_name`` states or inherits, without importing ``module``."""
    if (module, class_name) in _RECIPE_BASE:
        return dict(CARD_DEFAULTS)
    if depth > 8:
        raise _Unreadable(f"{module}.{class_name}: base classes too deep")
    tree = _module_tree(module)
    node = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if node is None or node.keywords:  # not defined here, or a metaclass that may change it
        raise _Unreadable(f"{module}.{class_name}")
    own = {}
    for statement in node.body:
        target, value = _assignment(statement)
        if target in CARD_DEFAULTS:
            own[target] = _literal(value)
    inherited: dict = {}
    for base in reversed(node.bases):  # the first base wins, as in the method resolution order for these bases
        inherited.update(_class_attributes(*_resolve(tree, module, base), depth=depth + 1))
    return {**inherited, **own}


def _module_tree(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise _Unreadable(module)
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _assignment(statement: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        return statement.targets[0].id, statement.value
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
        return statement.target.id, statement.value
    return None, None


def _literal(value: ast.expr):
    """A string literal, or a tuple of ``QualityBar(...)`` / ``zoo.QualityBar(...)`` calls with literal arguments."""
    if isinstance(value, ast.Tuple):
        return tuple(_quality_bar(element) for element in value.elts)
    literal = ast.literal_eval(value)
    if not isinstance(literal, str):
        raise _Unreadable(ast.dump(value))
    return literal


def _quality_bar(call: ast.expr) -> QualityBar:
    if not (isinstance(call, ast.Call) and ast.unparse(call.func) in ("QualityBar", "zoo.QualityBar")):
        raise _Unreadable(ast.dump(call))
    return QualityBar(*(ast.literal_eval(a) for a in call.args),
                      **{k.arg: ast.literal_eval(k.value) for k in call.keywords})


def _resolve(tree: ast.Module, module: str, base: ast.expr) -> tuple[str, str]:
    """(module, class name) a base-class expression names: ``zoo.Recipe``, a class of this module, or one imported
    by ``from M import C``."""
    if isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        return base.value.id, base.attr
    if not isinstance(base, ast.Name):
        raise _Unreadable(ast.dump(base))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == base.id:
            return module, base.id
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == base.id:
                    return node.module, alias.name
    raise _Unreadable(base.id)
