"""Versioned, atomic publication of ``MODEL_DIR/N/``.

A version is written into a hidden sibling (``.tmp-N-PID``), which TF Serving's file-system poll ignores
because its name is not an integer, and renamed into place only once complete and validated. A process
killed mid-export leaves only the hidden directory; the next export removes it.

The hidden directory also reserves its version: it is created under an exclusive lock on the model directory
(``flock``), and a version is free only when neither ``N/`` nor a temporary ``.tmp-N-PID`` of a running process
holds it. Two exports into one model directory at once therefore get two versions (``version=None``), or the
second is refused at once (the same explicit ``version``), instead of both writing ``N`` and one failing at the
rename after all its work.

Example:

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> publish(root / "m", None, lambda d, v: (d / "saved_model.pb").write_bytes(b"x")).name
'1'
>>> next_version(root / "m")
2
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable, Collection

from zoo.errors import ExportError

_TMP_PREFIX = ".tmp-"


MAX_VERSION = 2**63 - 1  # TF Serving reads version directories as int64 and ignores the others


def is_version_name(name: str) -> bool:
    """Whether ``name`` is a version number as TF Serving reads one: ASCII digits, at most :data:`MAX_VERSION`.

    (``str.isdigit`` alone also accepts ``'²'`` and other Unicode digits, which ``int`` may reject or read.)

    >>> is_version_name("12"), is_version_name("²"), is_version_name("٣"), is_version_name("-1")
    (True, False, False, False)
    >>> is_version_name(str(MAX_VERSION)), is_version_name(str(MAX_VERSION + 1))
    (True, False)
    """
    return name.isascii() and name.isdigit() and int(name) <= MAX_VERSION


def looks_like_a_version(name: str) -> bool:
    """A name a person may read as a number (``'²'``, ``'٣'``, ``'½'``) that is not a version TF Serving reads."""
    return name.isnumeric() and not is_version_name(name)


def existing_versions(model_dir: Path) -> list[int]:
    """Integer version directories under ``model_dir`` (what TF Serving would see), ascending."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and is_version_name(p.name))


def next_version(model_dir: Path, reserved: Collection[int] = ()) -> int:
    """Highest existing version + 1 (or 1), passing over the ``reserved`` ones (running exports are writing them)."""
    versions = existing_versions(model_dir)
    version = versions[-1] + 1 if versions else 1
    while version in reserved:
        version += 1
    return version


def check_version_free(model_dir: Path, version: int) -> None:
    """Raise ExportError if ``version`` is already published: versions are never overwritten."""
    if not 1 <= version <= MAX_VERSION:
        raise ExportError(f"version must be an integer from 1 to {MAX_VERSION} (TF Serving's int64), got {version}")
    if (model_dir / str(version)).exists():
        raise ExportError(f"{model_dir / str(version)} already exists; versions are never overwritten")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _temporaries(model_dir: Path) -> list[tuple[Path, int, int]]:
    """``(path, version, pid)`` of each ``.tmp-VERSION-PID`` directory under ``model_dir``."""
    found = []
    for path in model_dir.glob(_TMP_PREFIX + "*"):
        version_text, _, pid_text = path.name[len(_TMP_PREFIX):].partition("-")
        if is_version_name(version_text) and is_version_name(pid_text):
            found.append((path, int(version_text), int(pid_text)))
    return found


def remove_stale_temporaries(model_dir: Path) -> list[Path]:
    """Delete hidden export directories left by processes that no longer run; return what was removed."""
    removed = []
    if not model_dir.is_dir():
        return removed
    for path, _, pid in _temporaries(model_dir):
        if not _pid_alive(pid):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def check_version_not_reserved(model_dir: Path, version: int) -> None:
    """Raise ExportError if a running process is exporting ``version`` (its ``.tmp-VERSION-PID`` exists)."""
    if not model_dir.is_dir():
        return
    for _, number, pid in _temporaries(model_dir):
        if number == version and _pid_alive(pid):
            raise ExportError(f"{model_dir / str(version)} is being exported by process {pid}; "
                              "versions are never overwritten")


@contextlib.contextmanager
def _locked(model_dir: Path):
    """An exclusive ``flock`` on the model directory itself, for as long as the block runs."""
    descriptor = os.open(model_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _reserve(model_dir: Path, version: int | None) -> tuple[int, Path]:
    """Create the temporary directory of ``version`` (or of the next free version); return both.

    Under the model directory's lock: stale temporaries are removed, and the versions that temporaries of
    running processes are writing count as taken.
    """
    with _locked(model_dir):
        remove_stale_temporaries(model_dir)
        if version is None:
            version = next_version(model_dir, reserved={number for _, number, _ in _temporaries(model_dir)})
        check_version_free(model_dir, version)
        check_version_not_reserved(model_dir, version)
        tmp = model_dir / f"{_TMP_PREFIX}{version}-{os.getpid()}"
        tmp.mkdir()
    return version, tmp


def publish(model_dir: Path, version: int | None, write: Callable[[Path, int], None]) -> Path:
    """Run ``write(tmp_dir, version)`` and rename the result to ``model_dir/VERSION``; return the final path.

    ``version=None`` takes the next free version (one no other running export has reserved). If ``write``
    raises, nothing is published.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    version, tmp = _reserve(model_dir, version)
    try:
        write(tmp, version)
        _fsync_tree(tmp)
        final = model_dir / str(version)
        try:
            os.rename(tmp, final)  # fails if another process published this version meanwhile
        except OSError as exc:
            raise ExportError(f"could not publish {final}: {exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _fsync_tree(root: Path) -> None:
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as handle:
                os.fsync(handle.fileno())
