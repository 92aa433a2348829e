"""``--list`` cards: read from the recipes' source (no TensorFlow) and equal to what the imported classes say."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import time

import pytest

from zoo import registry
from zoo.bars import QualityBar
from zoo.catalog import RecipeCard, card_from_source
from zoo_subprocess import run_python

BUILT_IN = sorted(e.name for e in importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP)
                  if e.value.startswith("recipes."))


@pytest.mark.parametrize("name", BUILT_IN)
def test_the_card_read_from_source_is_the_card_of_the_imported_recipe(name):
    entry, = importlib.metadata.entry_points(group=registry.ENTRY_POINT_GROUP, name=name)
    assert card_from_source(name, entry.value) == RecipeCard.of(registry.get_recipe(name))


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """Write ``cards_plugin_<n>.py`` on sys.path; return its module name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    count = iter(range(100))

    def write(source: str) -> str:
        name = f"cards_plugin_{next(count)}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return name

    yield write
    for module in [m for m in sys.modules if m.startswith("cards_plugin_")]:
        del sys.modules[module]


def test_attributes_stated_plainly_are_read_through_base_classes(plugin_module):
    module = plugin_module('''
        import zoo
        from zoo.bars import QualityBar

        class Base(zoo.Recipe):
            data_summary = "base data"
            bars = (QualityBar("test_loss", "<", 1.5),)

        @zoo.register("carded")
        class Carded(Base):
            summary: str = ("two " "parts")
    ''')
    card = card_from_source("carded", module)
    assert card == RecipeCard("carded", "two parts", "base data", (QualityBar("test_loss", "<", 1.5),))
    assert module not in sys.modules  # read, not imported


@pytest.mark.parametrize("body", [
    'summary = "computed " + str(1)',
    'bars = tuple(zoo.QualityBar(m, ">=", 0.5) for m in ["a"])',
    'bars = (zoo.QualityBar("a", ">=", THRESHOLD),)',
], ids=["computed-summary", "computed-bars", "bar-from-a-name"])
def test_a_card_the_source_does_not_state_plainly_is_left_to_importing(plugin_module, body):
    module = plugin_module(f'''
        import zoo
        THRESHOLD = 0.5

        @zoo.register("computed")
        class Computed(zoo.Recipe):
            {body}
    ''')
    assert card_from_source("computed", module) is None
    assert card_from_source("computed", f"{module}:Computed") is None


def test_an_entry_point_naming_a_missing_module_or_class_is_left_to_importing(plugin_module):
    module = plugin_module('import zoo\n')
    assert card_from_source("x", "no_such_module_anywhere:X") is None
    assert card_from_source("x", f"{module}:Missing") is None
    assert card_from_source("x", module) is None  # registers nothing as "x"


def test_listing_and_help_import_no_tensorflow(tmp_path):
    for args in (["--list"], ["--help"]):
        started = time.monotonic()
        done = run_python(["-X", "importtime", "-m", "zoo.run", *args], cwd=tmp_path, timeout=120)
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
        assert "zoo.errors" in imported and not {"tensorflow", "keras"} & imported, args
        assert seconds < 10, (args, seconds)  # 0.1-0.2 s here; importing TensorFlow alone takes 5
    listed = run_python(["-m", "zoo.run", "--list"], cwd=tmp_path, timeout=120).stdout.splitlines()
    assert [line.split()[0] for line in listed[2:]] == BUILT_IN
