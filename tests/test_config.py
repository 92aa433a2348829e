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
