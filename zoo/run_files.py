"""Where a run keeps its files, and which resume checkpoint among them can be trusted.

One place for the names that the trainer (:mod:`zoo.backup`, :mod:`zoo.distribute`) and the launcher
(:mod:`zoo.launch`) must agree on, without TensorFlow: each worker's folder in the run directory, the files Keras'
``BackupAndRestore`` writes (``latest.weights.h5``, ``training_metadata.json``; with ``double_checkpoint`` the pair
before them as ``*.bkp``), and the record of their sha256 (``backup.sha256.json``) that makes a pair trusted.

Example:

>>> import tempfile
>>> backup = Path(tempfile.mkdtemp())
>>> _ = (backup / WEIGHTS).write_bytes(b"weights"); _ = (backup / METADATA).write_text('{"epoch": 2}')
>>> _ = record_digests(backup)
>>> trusted_pair(backup) == (backup / WEIGHTS, backup / METADATA), saved_epoch(backup)
(True, 2)
>>> _ = (backup / WEIGHTS).write_bytes(b"changed"); trusted_pair(backup) is None
True
"""

from __future__ import annotations

import json
from pathlib import Path

from zoo.data.files import sha256_of, write_atomically

WEIGHTS, METADATA = "latest.weights.h5", "training_metadata.json"  # as keras.callbacks.BackupAndRestore names them
PREVIOUS = ".bkp"  # its suffix for the pair before the latest
MANIFEST = "backup.sha256.json"


def task_run_dir(run_dir: str | Path, task_type: str, index: int, chief: bool) -> Path:
    """Where a task of a multi-worker cluster keeps its backup and logs: the run directory for the chief,
    ``TYPE-INDEX`` inside it for the others, so theirs never collide.

    >>> task_run_dir("runs/x", "worker", 0, chief=True), task_run_dir("runs/x", "worker", 2, chief=False)
    (PosixPath('runs/x'), PosixPath('runs/x/worker-2'))
    """
    return Path(run_dir) if chief else Path(run_dir) / f"{task_type}-{index}"


def worker_run_dir(run_dir: str | Path, index: int) -> Path:
    """:func:`task_run_dir` of worker ``index`` in a cluster of workers only, as ``zoo.launch`` starts them (worker 0
    is the chief)."""
    return task_run_dir(run_dir, "worker", index, chief=index == 0)


def record_digests(backup_dir: Path) -> dict[str, str]:
    """Record the sha256 of the latest pair in ``backup_dir`` (written atomically, once the pair is complete)."""
    digests = {name: sha256_of(backup_dir / name) for name in (WEIGHTS, METADATA)}
    write_atomically(backup_dir / MANIFEST, lambda handle: handle.write(json.dumps(digests, indent=1).encode("utf-8")))
    return digests


def trusted_pair(backup_dir: Path) -> tuple[Path, Path] | None:
    """The (weights, metadata) pair a resume may load: the latest if it matches the recorded sha256, else the previous
    one if that does (a save was cut short), else None."""
    try:
        recorded = json.loads((backup_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict):
        return None
    for suffix in ("", PREVIOUS):
        pair = backup_dir / (WEIGHTS + suffix), backup_dir / (METADATA + suffix)
        if all(path.is_file() and sha256_of(path) == recorded.get(name) for path, name in zip(pair, (WEIGHTS, METADATA))):
            return pair
    return None


def saved_epoch(backup_dir: Path) -> int | None:
    """The epochs finished in the trusted checkpoint of ``backup_dir`` (None without one)."""
    pair = trusted_pair(backup_dir)
    if pair is None:
        return None
    try:
        return int(json.loads(pair[1].read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
