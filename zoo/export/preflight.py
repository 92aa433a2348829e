"""Checks that an export could be published, run before any data is loaded or any step trained.

A run that trains for an hour and then cannot write its result has wasted the hour; these are the failures
known from the file system alone: the export root (or the model directory) is a file or cannot be written,
the model directory holds a name a person reads as a version but TF Serving does not (``²``), the requested
version exists or another running export is writing it, or ``models.config`` does not parse. Nothing is written
while checking.

Example:

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> check_export_target(root / "saved_models", "cnn_mnist", None)
>>> (root / "file").write_text("x") and None
>>> check_export_target(root / "file", "cnn_mnist", None)
Traceback (most recent call last):
...
zoo.errors.ExportError: export directory .../file is not a directory
"""

from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import ExportError
from zoo.export.models_config import CONFIG_FILE, read_models_config
from zoo.export.versions import check_version_free, check_version_not_reserved, looks_like_a_version


def check_export_target(export_root: Path, model_name: str, version: int | None) -> None:
    """Raise ExportError if exporting ``model_name`` (at ``version``, or the next one) under ``export_root`` must fail."""
    export_root = Path(export_root)
    model_dir = export_root / model_name
    for path, what in ((export_root, "export directory"), (model_dir, "model directory")):
        if path.exists() and not path.is_dir():
            raise ExportError(f"{what} {path} is not a directory")
    existing = next(p for p in (model_dir, *model_dir.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write under {existing}: it is read-only for this user")
    if model_dir.is_dir():
        confusing = sorted(p.name for p in model_dir.iterdir() if looks_like_a_version(p.name))
        if confusing:
            raise ExportError(f"{model_dir} holds {', '.join(map(repr, confusing))}, which reads as a version "
                              "number but is not one (TF Serving reads only ASCII digits): rename or remove it")
    if version is not None:
        check_version_free(model_dir, version)
        check_version_not_reserved(model_dir, version)
    read_models_config(export_root / CONFIG_FILE)
