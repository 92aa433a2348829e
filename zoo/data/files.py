"""Locating files inside installed packages, and checking their sha256 before they are read.

Files the zoo writes to reuse later (a cache) carry the sha256 recorded when they were written, in a
``NAME.sha256`` sibling; :func:`matches_recorded_sha256` says whether a file is still what was written.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "weights.h5"
>>> _ = path.write_bytes(b"trained"); _ = record_sha256(path)
>>> matches_recorded_sha256(path)
True
>>> _ = path.write_bytes(b"swapped"); matches_recorded_sha256(path)
False
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

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


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object], mode: int = 0o644) -> Path:
    """Create or replace ``path`` whole: ``write(handle)`` fills a hidden temporary sibling, which is flushed to
    disk, given ``mode`` and renamed over ``path``; a failure leaves ``path`` as it was and no temporary behind.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "models.config"
    >>> _ = write_atomically(target, lambda handle: handle.write(b"model_config_list {}"))
    >>> target.read_bytes(), oct(target.stat().st_mode & 0o777)
    (b'model_config_list {}', '0o644')
    """
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as handle:
        try:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException:
            os.unlink(handle.name)
            raise
    os.chmod(handle.name, mode)
    os.replace(handle.name, path)
    return path


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def record_sha256(path: str | Path) -> str:
    """Write ``path``'s sha256 to ``PATH.sha256`` (atomically) and return it: call it right after writing ``path``."""
    path = Path(path)
    digest = sha256_of(path)
    write_atomically(_digest_path(path), lambda handle: handle.write(f"{digest}\n".encode("ascii")))
    return digest


def matches_recorded_sha256(path: str | Path) -> bool:
    """Whether ``path`` exists and still has the sha256 :func:`record_sha256` recorded (False without a record)."""
    path = Path(path)
    try:
        recorded = _digest_path(path).read_text(encoding="ascii").strip()
        return path.is_file() and sha256_of(path) == recorded
    except (OSError, UnicodeDecodeError):
        return False


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
