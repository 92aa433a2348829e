"""The data layer's front door: a recipe's config in, train / validation / test :class:`Splits` out.

Every recipe reads its data through one of these, with the same config keys (:class:`DataSpec` lists them):

- :func:`load_text_classification`: texts and their labels (lstm, bert, electra);
- :func:`load_images`: images, with labels (cnn_mnist) or optionally without (autoencoder, kmeans);
- :func:`load_text_pairs`: source → target texts (t5); labelled text becomes text → label name;
- :func:`load_text_corpus`: text without labels, split (what a language model learns: gpt2);
- :func:`load_texts`: text without labels, unsplit (a pretraining corpus).

``data`` is read, then ``validation_data`` and ``test_data`` when given; a split that no source provides is cut
from the training data by :func:`zoo.data.splits.split_rows` (stratified by label, chosen by ``split_seed``),
and every split is put in its content-hash order. ``seed`` plays no part: it chooses initialisation and
shuffling only. Labels become ids of the training split's sorted label set.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tickets.csv"
>>> _ = path.write_text("body,team\\n" + "".join(f"ticket {i},{'it' if i % 3 else 'billing'}\\n" for i in range(30)))
>>> splits = load_text_classification(DataSpec(data=str(path), text_column="body", label_column="team"))
>>> splits.label_names, [len(part[1]) for part in (splits.train, splits.validation, splits.test)]
(('billing', 'it'), [21, 3, 6])
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from zoo.data.images import parse_image_size
from zoo.data.labels import label_ids, label_set
from zoo.data.sources import Package, Request, read_source, source_columns
from zoo.data.splits import Provenance, Splits, ordered_rows, split_rows
from zoo.data.table import Origin, Table, object_array
from zoo.errors import BadDataError, UsageError

SOURCE_KEYS = {"train": "data", "validation": "validation_data", "test": "test_data"}


@dataclasses.dataclass(frozen=True)
class DataSpec:
    """The data keys of a config (the same names in every recipe that takes them), and the recipe's name for
    messages. :meth:`of` picks them from any config; keys a recipe does not declare keep these defaults."""

    data: str = "package"
    validation_data: str = ""
    test_data: str = ""
    split_seed: int = 0
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    encoding: str = "utf-8"
    text_column: str = "text"
    label_column: str = "label"
    source_column: str = "source"
    target_column: str = "target"
    source_prefix: str = ""
    image_size: str = ""
    recipe: str = "this recipe"

    def __post_init__(self) -> None:
        if not (0 <= self.validation_fraction < 1 and 0 <= self.test_fraction < 1
                and self.validation_fraction + self.test_fraction < 1):
            raise UsageError(f"validation_fraction {self.validation_fraction} and test_fraction {self.test_fraction} "
                             "must each be in [0, 1) and leave something for training (sum below 1)")

    @classmethod
    def of(cls, config: Any, recipe: str = "this recipe") -> "DataSpec":
        keys = {f.name: getattr(config, f.name) for f in dataclasses.fields(cls) if hasattr(config, f.name)}
        return cls(**keys, recipe=recipe)

    def request(self, reads: str, roles: dict[str, str], optional: frozenset[str] = frozenset()) -> Request:
        return Request(roles=roles, reads=reads, optional=optional, encoding=self.encoding,
                       image_size=parse_image_size(self.image_size), recipe=self.recipe)


def load_text_classification(spec: DataSpec, package: Package | None = None) -> Splits:
    """Texts (``object`` arrays of ``str``) and int64 label ids, from ``text_column`` and ``label_column``."""
    request = spec.request("text", {"text": spec.text_column, "label": spec.label_column})
    return _load(spec, request, package, features="text", classes=True)


def load_images(spec: DataSpec, package: Package | None = None, labels_required: bool = True) -> Splits:
    """uint8 images [N, H, W] (grey) or [N, H, W, 3], with label ids; without labels (labels None) when
    ``labels_required`` is False and the data has none."""
    optional = frozenset() if labels_required else frozenset({"label"})
    request = spec.request("image", {"image": "image", "label": spec.label_column}, optional)
    return _load(spec, request, package, features="image", classes=True)


def load_text_pairs(spec: DataSpec, package: Package | None = None) -> Splits:
    """Source texts (``source_prefix`` + the source) and target texts, from ``source_column`` and
    ``target_column``. A source without those columns but with labelled text (``text_column`` and
    ``label_column``, class folders, an ``.npz``) gives text → label-name pairs; ``label_names`` then lists the
    labels."""
    request = spec.request("text", {"source": spec.source_column, "target": spec.target_column})
    columns = source_columns(spec.data, request, package)
    if columns is not None and {spec.source_column, spec.target_column} <= set(columns):
        splits = _load(spec, request, package, features="source", classes=False)
        return _with_parts(splits, lambda sources, targets: (_prefixed(spec, sources), targets))
    if columns is not None and not {spec.text_column, spec.label_column} <= set(columns):
        raise BadDataError(
            f"data={spec.data} has neither columns {spec.source_column!r} and {spec.target_column!r} (source_column, "
            f"target_column: pairs) nor {spec.text_column!r} and {spec.label_column!r} (text_column, label_column: a "
            f"text and its label); its columns: {', '.join(columns)}")
    splits = load_text_classification(spec, package)  # data it cannot read is refused before any notice
    what = (f"has no {spec.source_column!r} and {spec.target_column!r} columns" if columns is not None else
            "is labelled text")
    print(f"{spec.recipe}: data={spec.data} {what}: learning text → label name", file=sys.stderr)
    names = np.array(splits.label_names, dtype=object)
    return _with_parts(splits, lambda texts, labels: (_prefixed(spec, texts), names[labels]))


def load_text_corpus(spec: DataSpec, package: Package | None = None) -> Splits:
    """Texts from ``text_column`` (or ``.txt`` files), split into train, validation and test; labels are None (a
    source's labels, when it has them, only stratify the split)."""
    request = spec.request("text", {"text": spec.text_column})
    return _load(spec, request, package, features="text", classes=False)


def _with_parts(splits: Splits, convert) -> Splits:
    parts = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    return dataclasses.replace(splits, **{name: convert(*part) for name, part in parts.items() if part is not None})


def _prefixed(spec: DataSpec, sources: np.ndarray) -> np.ndarray:
    return sources if not spec.source_prefix else object_array([spec.source_prefix + s for s in sources])


def load_texts(spec: DataSpec, package: Package | None = None) -> np.ndarray:
    """Every text of ``data`` (a folder of .txt files, with or without class subfolders, or ``text_column`` of a
    file), unsplit, in content-hash order: a corpus to pretrain on."""
    request = spec.request("text", {"text": spec.text_column})
    tables = read_source("data", spec.data, request, package)
    texts = np.concatenate([table["text"] for table in tables.values()])
    if not len(texts):
        raise BadDataError(f"data={spec.data} holds no text")
    return texts[ordered_rows((t.encode("utf-8") for t in texts), spec.split_seed)]


def _contents(table: Table, features: str) -> Iterator[bytes]:
    """What each example is, for the split's hashing: its text's UTF-8 bytes, or its image's pixels (one at a time,
    so hashing copies no more than one example)."""
    values = table[features]
    if values.dtype == object:
        return (value.encode("utf-8") for value in values)
    return (row.tobytes() for row in values)


def _load(spec: DataSpec, request: Request, package: Package | None, features: str, classes: bool) -> Splits:
    """Read, split, label: the steps every loader shares."""
    tables = read_source("data", spec.data, request, package)
    origins = [("data", _absolute(tables["train"].origin))]
    for split in ("validation", "test"):
        given = getattr(spec, SOURCE_KEYS[split])
        if given:
            read = read_source(SOURCE_KEYS[split], given, request, package)
            tables[split] = read.get(split, read["train"])
            origins.append((SOURCE_KEYS[split], _absolute(tables[split].origin)))
    labelled = all("label" in table.columns for table in tables.values())
    every_label = set(tables["train"]["label"].tolist()) if labelled and classes else set()
    split = _split_missing(spec, tables, features, labelled)
    parts = {name: tables[name] for name in ("train", "validation", "test") if name in tables}
    if features == "image":
        parts = _same_image_layout(spec, parts)
    label_names: tuple[str, ...] = ()
    if labelled and classes:
        label_names = label_set(parts["train"]["label"])
        _check_classes(spec, parts, every_label, label_names)
    arrays = {}
    for name, table in parts.items():
        if labelled and classes:
            where = f"{SOURCE_KEYS[name]}={getattr(spec, SOURCE_KEYS[name])}" if name in split.get("given", ()) \
                else f"the {name} split"
            labels = label_ids(table["label"], label_names, where)
        elif features == "source":
            labels = table["target"]
        else:
            labels = None
        arrays[name] = (table[features], labels)
    train_origin = origins[0][1]
    provenance = Provenance(train_origin.path, train_origin.sha256, tuple(origins),
                            {k: v for k, v in split.items() if k != "given"} or None)
    return Splits(train=arrays["train"], validation=arrays.get("validation"), test=arrays["test"],
                  label_names=label_names, provenance=provenance)


def _absolute(origin: Origin) -> Origin:
    """``origin`` with a file or folder path made absolute (the model card should say which file, from anywhere)."""
    if origin.kind in ("package", "tfds"):
        return origin
    return dataclasses.replace(origin, path=str(Path(origin.path).resolve()))


def _split_missing(spec: DataSpec, tables: dict[str, Table], features: str, labelled: bool) -> dict[str, Any]:
    """Cut the validation and test splits no source gave from the training table (in place); every table is put
    in content-hash order. Returns how the split was made (for the model card)."""
    given = [name for name in ("validation", "test") if name in tables]
    fractions = {}
    if "test" not in tables:
        if spec.test_fraction <= 0:
            raise BadDataError("no test split: give test_data, or set test_fraction above 0")
        fractions["test"] = spec.test_fraction
    if "validation" not in tables and spec.validation_fraction > 0:
        fractions["validation"] = spec.validation_fraction
    for name in given:
        table = tables[name]
        tables[name] = table.take(ordered_rows(_contents(table, features), spec.split_seed))
    train = tables["train"]
    contents = _contents(train, features)
    if not fractions:
        tables["train"] = train.take(ordered_rows(contents, spec.split_seed))
        return {"given": given}
    strata = np.unique(train["label"], return_inverse=True)[1] if labelled else None
    rows = split_rows(contents, strata, fractions, spec.split_seed)
    for name, indices in rows.items():
        if not len(indices) and name == "validation":
            print(f"{spec.recipe}: data={spec.data} has too few examples for a validation split at "
                  f"validation_fraction={spec.validation_fraction}; training without one", file=sys.stderr)
            del fractions[name]
            continue
        if not len(indices):
            raise BadDataError(
                f"the test split would be empty: data={spec.data} has {len(train)} examples, too few for "
                f"test_fraction={spec.test_fraction}; add examples or give test_data" if name == "test" else
                f"no examples left for training after the split of data={spec.data}: lower test_fraction and "
                "validation_fraction")
        tables[name] = train.take(indices)
    made = {"split_seed": spec.split_seed, "made": sorted(fractions),
            **{f"{name}_fraction": fraction for name, fraction in fractions.items()}}
    return {"given": given, **made}


def _check_classes(spec: DataSpec, parts: dict[str, Table], every_label: set[str], label_names) -> None:
    """At least two classes, and none that the split left without a training example."""
    if len(label_names) < 2:
        only = f" (only {label_names[0]!r})" if label_names else ""
        raise BadDataError(f"data={spec.data} has fewer than two classes{only}; a classifier needs at least two")
    too_small = sorted(every_label - set(label_names))
    if too_small:
        held = np.concatenate([table["label"] for table in parts.values()])
        shown = ", ".join(f"{name!r} ({int(np.sum(held == name))} examples)" for name in too_small[:3])
        raise BadDataError(f"class {shown} is too small for the split: none of its examples is left for training "
                           f"with test_fraction={spec.test_fraction} and validation_fraction="
                           f"{spec.validation_fraction}; add examples or lower the fractions")


def _same_image_layout(spec: DataSpec, parts: dict[str, Table]) -> dict[str, Table]:
    """Every split's images in one layout: grey splits become RGB when another split is in colour; a size that
    differs from the training images' is an error (set ``image_size`` to resize all)."""
    shapes = {name: table["image"].shape[1:] for name, table in parts.items()}
    sizes = {name: shape[:2] for name, shape in shapes.items()}
    for name, size in sizes.items():
        if size != sizes["train"]:
            raise BadDataError(f"the {name} images are {size[0]}x{size[1]}, the training images "
                               f"{sizes['train'][0]}x{sizes['train'][1]}; set image_size=HxW to resize them all")
    if len({len(shape) for shape in shapes.values()}) == 1:
        return parts
    return {name: Table({**table.columns, "image": np.repeat(table["image"][..., np.newaxis], 3, axis=-1)}
                        if table["image"].ndim == 3 else table.columns, table.origin)
            for name, table in parts.items()}
