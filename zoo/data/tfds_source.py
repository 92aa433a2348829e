"""Datasets a user has prepared with tensorflow-datasets: ``tfds:NAME`` or ``tfds:NAME/CONFIG``.

Nothing is downloaded: the dataset must already be built in the tfds data directory (``$TFDS_DATA_DIR``, default
``~/tensorflow_datasets``), as ``tfds build NAME`` leaves it. Its ``train``, ``validation`` and ``test`` splits
are read as they are (a missing one is made by the zoo's split). The config's column keys name features
(``text_column=description``); a ``ClassLabel`` label is read as its class names; an image recipe reads the
dataset's supervised input feature (``image`` when it has none).

Example (needs a prepared dataset, so not run here):

>>> tables = read_tfds("mnist", {"image": "image", "label": "label"}, None)   # doctest: +SKIP
>>> sorted(tables), tables["train"]["image"].shape                            # doctest: +SKIP
(['test', 'train'], (60000, 28, 28))
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from zoo.data.images import image_array
from zoo.data.labels import label_name
from zoo.data.table import Origin, Table, object_array
from zoo.errors import BadDataError

SPLITS = ("train", "validation", "test")
_BATCH = 4096


def tfds_builder(name: str, data_dir: str | None = None):
    """tfds's builder of dataset ``name``; BadDataError if tfds has no such dataset."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # tfds raises its own DatasetNotFoundError and friends
        raise BadDataError(f"tfds has no dataset {name!r}: {_first_line(exc)}") from None


def tfds_features(name: str) -> tuple[str, ...]:
    """The feature names of tfds dataset ``name`` (from its code; nothing is read); BadDataError if tfds has no
    such dataset."""
    return tuple(tfds_builder(name).info.features)


def read_tfds(name: str, roles: Mapping[str, str], image_size: tuple[int, int] | None,
              data_dir: str | None = None) -> dict[str, Table]:
    """The dataset's train/validation/test splits (those it has) as tables keyed by role."""
    builder = tfds_builder(name, data_dir)
    features = builder.info.features
    names = dict(roles)
    if "image" in names:
        supervised = builder.info.supervised_keys
        names["image"] = supervised[0] if supervised and isinstance(supervised[0], str) else "image"
    missing = [feature for feature in names.values() if feature not in features]
    if missing:
        raise BadDataError(f"tfds:{name} has no feature {missing[0]!r}; its features: {', '.join(features)}")
    known = list(builder.info.splits)  # empty until the dataset is prepared
    if known and "train" not in known:
        raise BadDataError(f"tfds:{name} has no 'train' split (its splits: {', '.join(known)})")
    origin = Origin(f"tfds:{name} {builder.info.version}", "tfds", None, 0)
    tables = {}
    for split in (s for s in SPLITS if not known or s in known):
        try:
            columns = _read_split(builder, split, names)
        except Exception as exc:
            if split != "train":
                continue  # a dataset without this split
            raise BadDataError(f"tfds dataset {name!r} is not prepared in {builder.data_dir!r} (no download is "
                               f"attempted): {_first_line(exc)}") from None
        tables[split] = Table(_columns(columns, features, names, image_size, f"tfds:{name} {split}"), origin)
    return tables


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _read_split(builder, split: str, names: Mapping[str, str]) -> dict[str, list[np.ndarray]]:
    import tensorflow_datasets as tfds

    dataset = builder.as_dataset(split=split).map(lambda example: {role: example[f] for role, f in names.items()})
    static = all(dataset.element_spec[role].shape.is_fully_defined() for role in names)
    chunks: dict[str, list[np.ndarray]] = {role: [] for role in names}
    for batch in tfds.as_numpy(dataset.batch(_BATCH) if static else dataset):
        for role, values in batch.items():
            chunks[role].append(values if static else np.asarray(values)[np.newaxis])
    return chunks


def _columns(chunks, features, names, image_size, where: str) -> dict[str, np.ndarray]:
    columns = {}
    for role, parts in chunks.items():
        feature = features[names[role]]
        if role == "image":
            shapes = {part.shape[1:] for part in parts}
            if len(shapes) > 1 and image_size is None:
                raise BadDataError(f"{where}: images differ in size; set image_size=HxW to resize them all")
            images = parts if len(shapes) == 1 else [image_array(p, image_size, where) for p in parts]
            columns[role] = image_array(np.concatenate(images), image_size, where)
            continue
        values = np.concatenate(parts).tolist() if parts else []
        if role == "label" and hasattr(feature, "int2str"):
            values = [feature.int2str(int(v)) for v in values]
        elif role == "label":
            values = [label_name(v.decode("utf-8") if isinstance(v, bytes) else v) for v in values]
        else:
            values = [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in values]
        columns[role] = object_array(values)
    return columns
