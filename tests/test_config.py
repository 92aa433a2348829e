import dataclasses
import json

import pytest

from zoo.config import RecipeConfig, apply_overrides, describe, field, load_config_file, parse_set_options
from zoo.errors import UsageError


@dataclasses.dataclass
class ToyConfig(RecipeConfig):
    width: int = field(64, "units")
    dropout: float = field(0.1, "rate")
    name: str = field("x", "a name")
    shuffle: bool = field(True, "shuffle?")
    sizes: list[int] = field([1, 2], "sizes")


def test_values_are_parsed_by_declared_type():
    cfg = apply_overrides(ToyConfig(), {"width": "128", "dropout": "0.5", "shuffle": "false", "sizes": "3,4,5"})
    assert (cfg.width, cfg.dropout, cfg.shuffle, cfg.sizes) == (128, 0.5, False, [3, 4, 5])


@pytest.mark.parametrize(
    "key,value",
    [("epochs", "abc"), ("width", "1.5"), ("dropout", "x"), ("shuffle", "maybe"), ("width", True), ("sizes", "1,a")],
)
def test_bad_values_are_usage_errors_naming_the_key(key, value):
    with pytest.raises(UsageError, match=repr(key)):
        apply_overrides(ToyConfig(), {key: value})


def test_unknown_key_lists_known_keys():
    with pytest.raises(UsageError, match="unknown config key 'widht'.*width"):
        apply_overrides(ToyConfig(), {"widht": "3"})


def test_a_renamed_key_is_still_accepted_under_its_old_name_but_not_beside_its_new_one():
    @dataclasses.dataclass
    class Renamed(ToyConfig):
        renamed = {"breadth": "width"}

    assert apply_overrides(Renamed(), {"breadth": "7"}).width == 7
    with pytest.raises(UsageError, match="'breadth' is the old name of 'width'; give only 'width'"):
        apply_overrides(Renamed(), {"breadth": "7", "width": "8"})
    assert "breadth" not in [key.name for key in describe(Renamed)]


def test_overrides_layer_file_then_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("width: 32\nepochs: 4\n")
    cfg = apply_overrides(apply_overrides(ToyConfig(), load_config_file(path)), parse_set_options(["width=16"]))
    assert (cfg.width, cfg.epochs) == (16, 4)


def test_json_config_file(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"dropout": 0.25}))
    assert apply_overrides(ToyConfig(), load_config_file(path)).dropout == 0.25


@pytest.mark.parametrize("text", ["width: [1\n", "- 1\n- 2\n"])
def test_unparseable_or_non_mapping_file_is_usage_error(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match="config file"):
        load_config_file(path)


def test_missing_config_file():
    with pytest.raises(UsageError, match="not found"):
        load_config_file("/nonexistent/zoo.yaml")


def test_set_needs_key_equals_value():
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_set_options(["epochs"])


def test_describe_lists_every_key_with_type_default_help():
    keys = {k.name: k for k in describe(ToyConfig)}
    assert {"epochs", "batch_size", "learning_rate", "seed", "max_examples", "width"} <= set(keys)
    assert (keys["width"].type_name, keys["width"].default, keys["width"].help) == ("int", 64, "units")


def test_list_defaults_are_not_shared_between_instances():
    a, b = ToyConfig(), ToyConfig()
    a.sizes.append(9)
    assert b.sizes == [1, 2]


@dataclasses.dataclass
class RangedConfig(RecipeConfig):
    epochs: int = field(5, "redeclared for its default; keeps the base range")
    rate: float = field(0.1, "a rate", within="[0, 1)")
    widths: tuple[int, ...] = field((8, 16), "widths", within="[1, 64]")


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("epochs", "-1", r"epochs=-1 is out of range: epochs must be in \[0, inf\)"),
        ("rate", "1", r"rate=1.0 is out of range: rate must be in \[0, 1\)"),
        ("rate", "nan", r"rate=nan is out of range"),
        ("widths", "8,65", r"widths=8,65 is out of range: each value of widths must be in \[1, 64\]"),
        ("batch_size", "0", r"batch_size=0 is out of range: batch_size must be in \[1, inf\)"),
    ],
)
def test_declared_ranges_are_checked_for_base_and_own_keys(key, value, message):
    with pytest.raises(UsageError, match=message):
        apply_overrides(RangedConfig(), {key: value})


def test_values_inside_the_ranges_pass_and_describe_shows_them():
    cfg = apply_overrides(RangedConfig(), {"epochs": "0", "rate": "0", "widths": "1,64"})
    assert (cfg.epochs, cfg.rate, cfg.widths) == (0, 0.0, (1, 64))
    keys = {k.name: k for k in describe(RangedConfig)}
    assert (str(keys["rate"].within), str(keys["epochs"].within), keys["data"].within) == ("[0, 1)", "[0, inf)", None)


@pytest.mark.parametrize("within", ["[0, 1)", "0..1", "[2, 1]", "[nan, 1]"])
def test_a_default_outside_its_range_or_a_malformed_range_fails_at_definition(within):
    with pytest.raises(ValueError):
        field(1.0, "a rate", within=within)
