"""Image classification data through tensorflow-datasets, for users who have a dataset prepared.

Nothing is downloaded: the dataset must already be built in the tfds data directory
(``$TFDS_DATA_DIR``, default ``~/tensorflow_datasets``), as ``tfds build mnist`` leaves it.
"""

from __future__ import annotations

import numpy as np

from zoo.data.splits import Provenance, Splits
from zoo.errors import DataError


def load_image_classification(name: str, data_dir: str | None = None) -> Splits:
    """``train`` and ``test`` of a prepared tfds image dataset as uint8 [N,H,W] (single channel squeezed)."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as exc:  # tfds raises its own DatasetNotFoundError and friends
        raise DataError(f"tfds has no dataset {name!r}: {exc}") from None
    try:
        arrays = [_to_arrays(builder.as_dataset(split=split, as_supervised=True)) for split in ("train", "test")]
    except Exception as exc:
        raise DataError(
            f"tfds dataset {name!r} is not prepared in {builder.data_dir!r} (no download is attempted): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    (x_train, y_train), (x_test, y_test) = arrays
    label_feature = builder.info.features["label"]
    label_names = tuple(label_feature.names) if hasattr(label_feature, "names") else ()
    return Splits(
        train=(_images(x_train), y_train.astype(np.int64)),
        test=(_images(x_test), y_test.astype(np.int64)),
        label_names=label_names,
        provenance=Provenance(f"tensorflow-datasets {name} {builder.info.version}"),
    )


def _to_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate a supervised dataset into (images, labels), in batches (tfds' batch_size=-1 is not used:
    it crashes on mocked data)."""
    import tensorflow_datasets as tfds

    xs, ys = [], []
    for x, y in tfds.as_numpy(dataset.batch(4096)):
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def _images(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint8)
    return x[..., 0] if x.ndim == 4 and x.shape[-1] == 1 else x
