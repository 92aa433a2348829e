"""Caches of decoded arrays (``.npz``) that are used only when their content matches a known digest.

A cache is a convenience, not a source: anyone who can write the cache directory could otherwise swap the
data a recipe trains and is judged on. :func:`arrays_digest` hashes each array's name, dtype, shape and
bytes; :func:`read_cache` returns the arrays only when that digest equals the one the caller expects (for
a pinned source, the digest of what the pinned file decodes to), and ``None`` when the cache is missing,
unreadable or different, so the caller rebuilds it from the verified source. :func:`write_cache` replaces
a cache atomically, readable by everyone (0644).

A cache is never required. When ``$ZOO_CACHE_DIR`` cannot hold it (a read-only folder, a path that is a regular
file or lies beneath one, a full disk), :func:`write_cache` prints one warning line naming the path and the
reason, and the run goes on without caching: the data is decoded again from its verified source next time.
This is what pip does with an unusable cache; refusing to train because a convenience is unavailable would
turn a read-only home directory or container into a failure.

Example:

>>> import tempfile, pathlib, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
>>> arrays = {"x": np.arange(4, dtype=np.uint8)}
>>> digest = write_cache(path, arrays)
>>> read_cache(path, digest)["x"].tolist()
[0, 1, 2, 3]
>>> np.savez(path, x=np.zeros(4, np.uint8)); read_cache(path, digest) is None   # forged: not used
True
"""

from __future__ import annotations

import hashlib
import os
import sys
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from zoo.data.files import write_atomically

CACHE_MODE = 0o644


def cache_dir() -> Path:
    """Where the zoo keeps caches: ``$ZOO_CACHE_DIR``, default ``~/.cache/zoo``."""
    return Path(os.environ.get("ZOO_CACHE_DIR", Path.home() / ".cache" / "zoo"))


def arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """Hex sha256 over every array's name, dtype, shape and C-order bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def read_cache(path: Path, expected_digest: str) -> dict[str, np.ndarray] | None:
    """The cached arrays when ``path`` holds exactly the arrays of ``expected_digest``; otherwise ``None``.

    A cache that exists but does not match is reported on stderr (it is rebuilt by the caller).
    """
    try:
        if not path.is_file():
            return None
    except OSError:  # the cache folder is unusable (not searchable, say): write_cache says why
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        problem = f"is unreadable ({type(exc).__name__})"
    else:
        if arrays_digest(arrays) == expected_digest:
            return arrays
        problem = "does not match the digest of the data it caches"
    print(f"zoo: cache {path} {problem}; rebuilding it from the verified source", file=sys.stderr)
    return None


def write_cache(path: Path, arrays: Mapping[str, np.ndarray]) -> str:
    """Write ``arrays`` to ``path`` atomically with mode 0644; return their :func:`arrays_digest`.

    If ``path`` cannot be written, print one warning line and write nothing (the caller goes on uncached).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, lambda handle: np.savez(handle, **arrays), CACHE_MODE)
    except OSError as exc:
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            reason = "a regular file stands where a folder is needed"
        else:
            reason = exc.strerror or type(exc).__name__
        print(f"zoo: warning: not caching {path.name}: cannot write under {path.parent} ({reason}); "
              "set ZOO_CACHE_DIR to a writable folder to cache it", file=sys.stderr)
    return arrays_digest(arrays)
