"""``EXPORT/models.config``: the text-format ``ModelServerConfig`` for ``tensorflow_model_server``.

Base paths are written as they will be seen inside the serving container (``/models/NAME`` by default,
matching ``docker run -v $PWD/saved_models:/models tensorflow/serving --model_config_file=/models/models.config``).

The file is the operator's as much as the zoo's: ``version_labels``, ``model_version_policy`` or a
``base_path`` a person wrote are kept. An export only adds an entry for a model the file does not name yet
(and leaves the file untouched when there is nothing to add); it is replaced atomically, mode 0644.

Example:

>>> print(text_format.MessageToString(merge_models_config(None, ["cnn_mnist"])), end="")
model_config_list {
  config {
    name: "cnn_mnist"
    base_path: "/models/cnn_mnist"
    model_platform: "tensorflow"
  }
}
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Iterable

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from zoo.data.files import write_atomically
from zoo.errors import ExportError
from zoo.export.versions import existing_versions

CONFIG_FILE = "models.config"
LOCK_FILE = ".models.config.lock"  # hidden: TF Serving and zoo.serve ignore it
CONFIG_MODE = 0o644
SERVING_ROOT = "/models"


def exported_models(export_root: Path) -> list[str]:
    """Names of directories under ``export_root`` that hold at least one version with a saved_model.pb."""
    if not export_root.is_dir():
        return []
    return sorted(
        p.name
        for p in export_root.iterdir()
        if p.is_dir() and any((p / str(v) / "saved_model.pb").is_file() for v in existing_versions(p))
    )


def parse_models_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """Parse a models.config text as TF Serving does; raise ExportError if it does not parse."""
    try:
        return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as exc:
        raise ExportError(f"models.config does not parse as a ModelServerConfig: {exc}") from None


def read_models_config(path: Path) -> model_server_config_pb2.ModelServerConfig | None:
    """The config in ``path`` (None when there is no such file); ExportError if it cannot be read or parsed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    config = parse_models_config(text)
    if config.WhichOneof("config") == "custom_model_config":
        raise ExportError(f"{path} holds a custom_model_config; the zoo only adds to a model_config_list")
    return config


def merge_models_config(
    existing: model_server_config_pb2.ModelServerConfig | None, names: Iterable[str], serving_root: str = SERVING_ROOT
) -> model_server_config_pb2.ModelServerConfig:
    """``existing`` (every entry and field kept) plus an entry for each of ``names`` it does not name yet."""
    config = model_server_config_pb2.ModelServerConfig()
    if existing is not None:
        config.CopyFrom(existing)
    entries = config.model_config_list.config
    named = {entry.name for entry in entries}
    for name in sorted(set(names) - named):
        entry = entries.add()
        entry.name = name
        entry.base_path = f"{serving_root.rstrip('/')}/{name}"
        entry.model_platform = "tensorflow"
    return config


def write_models_config(export_root: Path, serving_root: str = SERVING_ROOT) -> Path:
    """Add every exported model to ``export_root/models.config``, keeping what it holds.

    The file is rewritten only when a model is added: atomically (a temporary sibling renamed over it), mode 0644,
    under an exclusive lock, so two exports finishing at once into one root both end up listed.
    """
    with open(Path(export_root) / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _merge_into_file(Path(export_root), serving_root)


def _merge_into_file(export_root: Path, serving_root: str) -> Path:
    path = export_root / CONFIG_FILE
    existing = read_models_config(path)
    merged = merge_models_config(existing, exported_models(export_root), serving_root)
    if existing is not None and merged == existing:
        return path
    text = text_format.MessageToString(merged)
    parse_models_config(text)
    return write_atomically(path, lambda handle: handle.write(text.encode("utf-8")), CONFIG_MODE)
