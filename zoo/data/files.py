"""Locating files inside installed packages, and checking their sha256 before they are read."""

from __future__ import annotations

import hashlib
import importlib.metadata
from pathlib import Path

from zoo.errors import DataError


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: str | Path, expected: str) -> str:
    """Return ``expected`` when the file's sha256 matches it; raise DataError otherwise."""
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(
            f"{path} does not match its pinned sha256 (expected {expected[:12]}…, got {actual[:12]}…): "
            "the file was modified or is a different release; reinstall it with `make install`"
        )
    return actual


def package_file(distribution: str, relative_path: str, install_hint: str) -> Path:
    """The path of ``relative_path`` inside an installed distribution, or a DataError saying how to install it."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise DataError(f"package {distribution!r} is not installed; {install_hint}") from None
    path = Path(dist.locate_file(relative_path))
    if not path.exists():
        raise DataError(f"{relative_path} is missing from package {distribution!r}; {install_hint}")
    return path
