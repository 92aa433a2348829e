"""``.npz`` files: array ``x`` (uint8 images [N, H, W] or [N, H, W, C], or a 1-D array of strings) and ``y``
(labels: integers or strings), as ``numpy.savez`` writes them. Object arrays are refused (they would need
pickle, which can run code).

Example:

>>> import pathlib, tempfile, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "digits.npz"
>>> np.savez(path, x=np.zeros((3, 8, 8), np.uint8), y=np.array([1, 0, 1]))
>>> table = read_npz(path, {"image": "x", "label": "y"}, None)
>>> table["image"].shape, table["label"].tolist()
((3, 8, 8), ['1', '0', '1'])
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from zoo.data.files import sha256_of
from zoo.data.images import image_array
from zoo.data.labels import label_name
from zoo.data.table import Origin, Table, object_array
from zoo.errors import BadDataError


def read_npz(path: Path, roles: Mapping[str, str], image_size: tuple[int, int] | None,
             optional: frozenset[str] = frozenset()) -> Table:
    """``x`` as the ``image`` (or ``text``) role and ``y`` as ``label``, whichever of them ``roles`` asks for; a role
    in ``optional`` whose array is absent is left out."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadDataError(f"{path} is not a readable .npz of plain arrays ({reason})") from None
    array_of = {role: "y" if role == "label" else "x" for role in roles}
    roles = [role for role in roles if role not in optional or array_of[role] in arrays]
    wanted = [array_of[role] for role in roles]
    missing = [name for name in wanted if name not in arrays]
    if missing:
        raise BadDataError(f"{path} has no array {missing[0]!r}; its arrays: {', '.join(arrays) or 'none'} "
                           "(a .npz data file holds x and y)")
    lengths = {name: len(arrays[name]) if arrays[name].ndim else 0 for name in wanted}
    if len(set(lengths.values())) > 1:
        raise BadDataError(f"{path}: x and y have different lengths ({lengths['x']} and {lengths['y']})")
    if not next(iter(lengths.values()), 0):
        raise BadDataError(f"{path} holds no examples")
    columns = {}
    for role in roles:
        if role == "label":
            columns[role] = _labels(path, arrays["y"])
        elif role == "image":
            columns[role] = image_array(arrays["x"], image_size, f"{path} array x")
        else:
            columns[role] = _texts(path, arrays["x"])
    return Table(columns, Origin(str(path), "npz", sha256_of(path)))


def _labels(path: Path, y: np.ndarray) -> np.ndarray:
    if y.ndim != 1 or y.dtype.kind not in "iubUS":
        raise BadDataError(f"{path} array y must be 1-D integers or strings, not {y.dtype} of shape {y.shape}")
    values = y.astype(str) if y.dtype.kind == "S" else y
    try:
        return object_array([label_name(v) for v in values.tolist()])
    except ValueError as exc:
        raise BadDataError(f"{path} array y: {exc}") from None


def _texts(path: Path, x: np.ndarray) -> np.ndarray:
    if x.ndim != 1 or x.dtype.kind not in "US":
        raise BadDataError(f"{path} array x must be 1-D strings for a text recipe, not {x.dtype} of shape "
                           f"{x.shape}")
    return object_array((x.astype(str) if x.dtype.kind == "S" else x).tolist())
