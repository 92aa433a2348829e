"""The layout's import rules, read from the source, counting imports inside functions too: the framework (``zoo``)
never imports the built-in recipes or the benchmarks; the model library (``zoo.models``) never imports the export,
serving, registry, driver or command-line modules; no module of the tree imports itself through others (a circle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "recipes", "bench")


def module_files() -> dict[str, Path]:
    """Dotted module name → file, for every module of the tree's packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The tree's modules that ``path`` (module ``name``) imports anywhere in it: an import statement, or
    ``importlib.import_module("literal")``.

    ``from a.b import c`` counts as ``a.b.c`` when that is a module, else as ``a.b``; a parent package is not
    counted for a submodule's import (Python runs it, but a package's ``__init__`` importing its own submodules
    would then always be a circle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *filter(None, [base])])
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names)
        elif is_import_module_call(node):
            found.add(node.args[0].value)
    return {module for module in found if module in known and module != name}


def is_import_module_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        return False
    function = node.func
    return (function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")) == "import_module"


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported_modules(path, name, set(files)) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "zoo.registry" in graph["zoo.recipe"]  # a module-level import
    assert "zoo.data.mnist" in graph["recipes.cnn_mnist"]  # `from zoo.data import mnist` names the module
    assert "zoo" in graph["recipes.cnn_mnist"]
    call = ast.parse("importlib.import_module('recipes')").body[0].value
    assert is_import_module_call(call) and not is_import_module_call(ast.parse("f('recipes')").body[0].value)
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("outside", ["recipes", "bench"])
def test_the_framework_never_imports_recipes_or_benchmarks(outside):
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == outside)
                 for name, targets in import_graph().items() if name.split(".")[0] == "zoo"}
    assert {name: targets for name, targets in offenders.items() if targets} == {}


MODEL_LIBRARY_NEVER_IMPORTS = ("zoo.export", "zoo.serve", "zoo.registry", "zoo.recipe", "zoo.run", "zoo.launch",
                               "zoo.cli", "recipes", "bench")


def test_the_model_library_never_imports_export_serving_or_the_cli():
    def forbidden(module: str) -> bool:
        return module == "zoo" or any(module == f or module.startswith(f + ".") for f in MODEL_LIBRARY_NEVER_IMPORTS)

    offenders = {name: sorted(filter(forbidden, targets))
                 for name, targets in import_graph().items() if name.startswith("zoo.models")}
    assert {name: targets for name, targets in offenders.items() if targets} == {}


def test_no_import_circle_in_the_tree():
    assert circles(import_graph()) == []
