"""``EXPORT/models.config``: the text-format ``ModelServerConfig`` for ``tensorflow_model_server``.

Base paths are written as they will be seen inside the serving container (``/models/NAME`` by default,
matching ``docker run -v $PWD/saved_models:/models tensorflow/serving --model_config_file=/models/models.config``).

Example:

>>> print(render_models_config(["cnn_mnist"]), end="")
model_config_list {
  config {
    name: "cnn_mnist"
    base_path: "/models/cnn_mnist"
    model_platform: "tensorflow"
  }
}
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from zoo.errors import ExportError
from zoo.export.versions import existing_versions

CONFIG_FILE = "models.config"
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


def render_models_config(names: Iterable[str], serving_root: str = SERVING_ROOT) -> str:
    """The text of a ``ModelServerConfig`` serving every model in ``names``, checked by parsing it back."""
    config = model_server_config_pb2.ModelServerConfig()
    for name in sorted(set(names)):
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = f"{serving_root.rstrip('/')}/{name}"
        entry.model_platform = "tensorflow"
    text = text_format.MessageToString(config)
    parse_models_config(text)
    return text


def parse_models_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """Parse a models.config text as TF Serving does; raise ExportError if it does not parse."""
    try:
        return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as exc:
        raise ExportError(f"models.config does not parse as a ModelServerConfig: {exc}") from None


def write_models_config(export_root: Path, extra: Iterable[str] = (), serving_root: str = SERVING_ROOT) -> Path:
    """(Re)write ``export_root/models.config`` covering every exported model (plus ``extra``), atomically."""
    export_root = Path(export_root)
    text = render_models_config([*exported_models(export_root), *extra], serving_root)
    path = export_root / CONFIG_FILE
    with tempfile.NamedTemporaryFile("w", dir=export_root, prefix=".models.config.", delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)
    return path
