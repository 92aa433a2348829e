"""``assets.extra/zoo.json``: what was exported, from what, how well it did, and with which libraries."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import platform
from pathlib import Path
from typing import Any, Mapping

CARD_FILE = "zoo.json"
_LIBRARIES = ("zoo", "tensorflow", "keras", "keras-hub", "tensorflow-text", "numpy", "scikit-learn")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries an export depends on (``None`` when absent)."""
    versions: dict[str, Any] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def write_model_card(
    saved_model_dir: Path,
    *,
    recipe: str,
    version: int,
    config: Mapping[str, Any],
    metrics: Mapping[str, float],
    data: Mapping[str, Any],
    precision: Mapping[str, Any],
    signatures: Mapping[str, Any],
) -> Path:
    """Write the model card; every value must be JSON-serialisable. ``precision``: what the export computes in, and
    how it compared with float32 on the test split (:mod:`zoo.export.precision`)."""
    card = {
        "recipe": recipe,
        "version": version,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": dict(config),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "data": dict(data),
        "precision": dict(precision),
        "signatures": dict(signatures),
        "libraries": library_versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine()},
    }
    path = Path(saved_model_dir) / "assets.extra" / CARD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_model_card(saved_model_dir: Path) -> dict[str, Any]:
    return json.loads((Path(saved_model_dir) / "assets.extra" / CARD_FILE).read_text(encoding="utf-8"))
