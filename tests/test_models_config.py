"""models.config: an export adds what is new and keeps every entry and field a person wrote; written 0644."""

import os

import pytest
from google.protobuf import text_format

from conftest import make_half_plus_two
from zoo.errors import ExportError
from zoo.export import export
from zoo.export.models_config import merge_models_config, parse_models_config
from zoo.export.versions import existing_versions

HAND_WRITTEN = """# written by the operator; the zoo must keep it
model_config_list {
  config {
    name: 'cnn_mnist'
    base_path: '/srv/models/cnn_mnist'
    model_platform: 'tensorflow'
    model_version_policy { specific { versions: 1 versions: 2 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 2 }
  }
  config {
    name: 'half_plus_two'
    base_path: '/models/half_plus_two'
    model_platform: 'tensorflow'
    model_version_policy { latest { num_versions: 2 } }
  }
}
"""


def _export(root, name="half_plus_two"):
    return export(make_half_plus_two(), model_name=name, export_root=root, card={})


def test_exports_keep_every_hand_written_entry_and_field(tmp_path):
    config_path = tmp_path / "models.config"
    config_path.write_text(HAND_WRITTEN)
    _export(tmp_path)  # half_plus_two is named already: nothing to add, the file (comment included) is untouched
    assert config_path.read_text() == HAND_WRITTEN

    _export(tmp_path, name="other")  # a new model: added, everything else kept as written
    merged = parse_models_config(config_path.read_text())
    expected = parse_models_config(HAND_WRITTEN)
    expected.model_config_list.config.add(name="other", base_path="/models/other", model_platform="tensorflow")
    assert merged == expected
    cnn = merged.model_config_list.config[0]
    assert dict(cnn.version_labels) == {"stable": 1, "canary": 2} and list(cnn.model_version_policy.specific.versions) == [1, 2]


def test_models_config_is_written_0644_atomically(tmp_path):
    old_umask = os.umask(0o077)
    try:
        _export(tmp_path)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "models.config").stat().st_mode & 0o777 == 0o644
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


def test_a_models_config_that_does_not_parse_stops_the_export_before_anything_is_published(tmp_path):
    (tmp_path / "models.config").write_text("model_config_list { config { name: 'a' ")
    with pytest.raises(ExportError, match="models.config does not parse"):
        _export(tmp_path)
    assert existing_versions(tmp_path / "half_plus_two") == []


def test_merge_adds_only_missing_names():
    existing = parse_models_config(HAND_WRITTEN)
    merged = merge_models_config(existing, ["cnn_mnist", "lstm"])
    assert [c.name for c in merged.model_config_list.config] == ["cnn_mnist", "half_plus_two", "lstm"]
    assert merged.model_config_list.config[0] == existing.model_config_list.config[0]
    assert "lstm" not in text_format.MessageToString(existing)  # the input is not modified
