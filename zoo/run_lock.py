"""One run at a time per run directory: :func:`holding_run_dir` locks ``RUN_DIR/run.lock`` for as long as a run goes.

The run directory (``runs/RECIPE/CONFIG_HASH`` by default) holds what a run keeps between epochs: the per-epoch
backup it resumes from, TensorBoard logs, t5's vocabulary and pretrained weights. Two runs sharing it at once would
resume from, or delete, each other's backup, so :meth:`zoo.Recipe.run` holds an exclusive ``flock`` on a lock file
inside it, taken without waiting before any data is loaded. A second run of the same directory is refused at once
(a UsageError: exit status 2). The kernel drops the lock when the holder's file is closed, so a run that finishes,
fails or is killed (even by SIGKILL) never leaves it behind; the file itself stays, harmless.

Example:

>>> import tempfile
>>> run_dir = Path(tempfile.mkdtemp()) / "run"
>>> with holding_run_dir(run_dir):
...     with holding_run_dir(run_dir):
...         pass
Traceback (most recent call last):
...
zoo.errors.UsageError: run directory ... is in use by another run (process ...); wait for it to finish, or pass --run-dir DIR (run_dir= in Python) to run beside it
>>> with holding_run_dir(run_dir):  # released when the first run ended
...     pass
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from zoo.errors import UsageError

LOCK_NAME = "run.lock"


@contextlib.contextmanager
def holding_run_dir(run_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` (created if missing) while the ``with`` block runs; UsageError at once,
    writing nothing, if another run (another process, or another run in this one) holds it.

    A run that leaves nothing in the directory but the lock (refused data, say) takes the lock file and the folders
    it created away again, so bad input leaves no trace.
    """
    run_dir = Path(run_dir)
    lock_path = run_dir / LOCK_NAME
    created = _missing_folders(run_dir)
    fd = _locked(run_dir, lock_path)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)  # who holds it, for the message a refused run prints
        yield run_dir
    finally:
        with contextlib.suppress(OSError):
            if [p.name for p in run_dir.iterdir()] == [LOCK_NAME]:
                lock_path.unlink()  # while still held: a run that opened it meanwhile finds it gone, and retries
        os.close(fd)  # releases the lock
        for folder in created:  # deepest first; a folder another run has put something into stays
            try:
                folder.rmdir()
            except OSError:
                break


def _locked(run_dir: Path, lock_path: Path) -> int:
    """An open descriptor of ``lock_path`` holding its exclusive lock; UsageError if another run holds it."""
    while True:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:  # a finished run removed the folder between the two calls
            continue
        except OSError as exc:
            raise UsageError(f"cannot use run directory {run_dir}: {exc.strerror or exc}; pass --run-dir DIR") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise UsageError(f"run directory {run_dir} is in use by another run{holder}; wait for it to finish, or "
                             "pass --run-dir DIR (run_dir= in Python) to run beside it") from None
        if _same_file(fd, lock_path):
            return fd
        os.close(fd)  # locked a lock file its holder removed as it finished: lock the one now at the path


def _same_file(fd: int, path: Path) -> bool:
    try:
        at_path = path.stat()
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (at_path.st_dev, at_path.st_ino)


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _holder(fd: int) -> str:
    """`` (process N)`` from the lock file, or nothing if the holder has not written its id yet."""
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return f" (process {text})" if text.isdigit() else ""
