"""From a ``data`` value to tables: which reader reads it, asked for which roles.

A source is ``package`` (the recipe's bundled data), ``tfds:NAME[/CONFIG]`` (a prepared tensorflow-datasets
dataset), or a path: ``.csv``, ``.tsv``, ``.jsonl``, ``.json``, ``.npz``, or a folder (class subfolders of text
files or images, or files without classes). :func:`read_source` returns the source's tables by split: ``train``
always, ``validation`` and ``test`` when the source defines them (MNIST's official test set, a tfds split).

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "reviews.tsv"
>>> _ = path.write_text("review\\tstars\\nGreat\\t5\\nPoor\\t1\\n")
>>> request = Request(roles={"text": "review", "label": "stars"}, reads="text")
>>> read_source("data", str(path), request)["train"]["label"].tolist()
['5', '1']
>>> read_source("data", str(path.with_suffix(".xlsx")), request)
Traceback (most recent call last):
...
zoo.errors.BadDataError: data=...reviews.xlsx: no such file or folder
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Mapping

from zoo.data.delimited import delimited_columns, read_delimited
from zoo.data.folders import read_folder, scan_folder
from zoo.data.json_records import json_columns, read_json_records
from zoo.data.npz import read_npz
from zoo.data.table import Table
from zoo.errors import BadDataError

PACKAGE = "package"
TFDS = "tfds:"
TABULAR = (".csv", ".tsv", ".jsonl", ".json")
FORMS = "package, tfds:NAME, a .csv/.tsv/.jsonl/.json/.npz file, or a folder"


@dataclasses.dataclass(frozen=True)
class Package:
    """A dataset the zoo bundles: what it is, the ``columns`` of its tables, and ``read`` (→ a table, or tables by
    split)."""

    description: str
    columns: tuple[str, ...]
    read: Callable[[], Table | dict[str, Table]]


@dataclasses.dataclass(frozen=True)
class Request:
    """What a recipe asks of a source: ``roles`` (role → the column that fills it), of which ``optional`` ones may be
    absent (an autoencoder's labels); ``reads`` is ``"text"`` or ``"image"``; and how to read it."""

    roles: Mapping[str, str]
    reads: str
    optional: frozenset[str] = frozenset()
    encoding: str = "utf-8"
    image_size: tuple[int, int] | None = None
    recipe: str = "this recipe"


def check_source(key: str, spec: str, request: Request, package: Package | None = None) -> None:
    """Whether ``spec`` (the value of config key ``key``) is a source ``request`` can read, by its form alone (nothing
    is opened): the recipe bundles a package, ``tfds:`` is followed by NAME or NAME/CONFIG, the path exists and is
    a kind of file the recipe reads. Raises BadDataError naming the key and the value; :func:`read_source` and
    :func:`source_columns` check through it first."""
    if spec == PACKAGE:
        if package is None:
            raise BadDataError(f"{key}=package: {request.recipe} bundles no data; give a file, a folder or tfds:NAME")
        return
    if spec.startswith(TFDS):
        name = spec[len(TFDS):]
        if not name or name.startswith("/") or name.endswith("/"):
            raise BadDataError(f"{key}={spec}: write tfds:NAME or tfds:NAME/CONFIG")
        return
    path = Path(spec).expanduser()
    if not path.exists():
        raise BadDataError(f"{key}={spec}: no such file or folder")
    if path.is_dir():
        return
    suffix = path.suffix.lower()
    if suffix in TABULAR and request.reads == "image":
        raise BadDataError(f"{key}={spec}: {request.recipe} reads images; give a folder of images (class "
                           "subfolders for labels), a .npz with x and y, tfds:NAME or package")
    if suffix not in (*TABULAR, ".npz"):
        raise BadDataError(f"{key}={spec}: {f'a {suffix} file' if suffix else 'a file without a suffix'} is not a data "
                           f"source; {key} takes {FORMS}")


def read_source(key: str, spec: str, request: Request, package: Package | None = None) -> dict[str, Table]:
    """The tables of source ``spec`` (the value of config key ``key``) by split."""
    check_source(key, spec, request, package)
    if spec == PACKAGE:
        return _package_tables(package, request)
    if spec.startswith(TFDS):
        return _tfds_tables(spec, request)
    path = Path(spec).expanduser()
    if path.is_dir():
        return {"train": _folder_table(key, path, request)}
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return {"train": _npz_table(path, request)}
    read = read_delimited if suffix in (".csv", ".tsv") else read_json_records
    return {"train": read(path, request.roles, request.encoding)}


def source_columns(spec: str, request: Request, package: Package | None = None,
                   key: str = "data") -> tuple[str, ...] | None:
    """The column names a named-column source offers (a file's header or first record, a package's columns, a tfds
    dataset's features); None for sources whose layout fills the roles (folders, ``.npz``). A source that cannot be
    read (:func:`check_source`, a tfds name tfds does not know) raises BadDataError."""
    check_source(key, spec, request, package)
    if spec == PACKAGE:
        return package.columns
    if spec.startswith(TFDS):
        from zoo.data.tfds_source import tfds_features

        return tfds_features(spec[len(TFDS):])
    path = Path(spec).expanduser()
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return tuple(delimited_columns(path, request.encoding))
    if suffix in (".jsonl", ".json"):
        return tuple(json_columns(path, request.encoding))
    return None


def _package_tables(package: Package, request: Request) -> dict[str, Table]:
    read = package.read()
    tables = read if isinstance(read, dict) else {"train": read}
    selected = {}
    for split, table in tables.items():
        columns = {}
        for role, name in request.roles.items():
            if name in table.columns:
                columns[role] = table[name]
            elif role not in request.optional:
                raise BadDataError(f"the bundled {package.description} has no column {name!r} ({role}_column); its "
                                   f"columns: {', '.join(package.columns)}")
        selected[split] = Table(columns, table.origin)
    return selected


def _tfds_tables(spec: str, request: Request) -> dict[str, Table]:
    from zoo.data.tfds_source import read_tfds

    return read_tfds(spec[len(TFDS):], request.roles, request.image_size)


def _folder_table(key: str, path: Path, request: Request) -> Table:
    layout = scan_folder(path)
    if layout.kind != request.reads:
        held = "text files" if layout.kind == "text" else "images"
        raise BadDataError(f"{key}={path}: a folder of {held}, but {request.recipe} reads "
                           f"{'text' if request.reads == 'text' else 'images'}")
    if "label" in request.roles and "label" not in request.optional and not layout.labelled:
        raise BadDataError(f"{key}={path}: its {len(layout.files[''])} files are not in class subfolders; "
                           f"{request.recipe} needs labels: one subfolder per class (ROOT/<label>/file)")
    return read_folder(layout, request.encoding, request.image_size)


def _npz_table(path: Path, request: Request) -> Table:
    return read_npz(path, request.roles, request.image_size, optional=request.optional)
