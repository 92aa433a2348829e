"""The bundled corpora written out as a user's files would be: BBC News as CSV, JSON Lines and a folder tree, MNIST
as PNG class folders, so tests can check that every form trains like ``data=package``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.data.bbc_news import load_bbc_news
from zoo.data.mnist import load_mnist

SPLITS = ("train", "validation", "test")


def bbc_parts() -> dict[str, tuple[list[str], list[str]]]:
    """BBC News' package split: ``{split: (texts, label names)}``."""
    splits = load_bbc_news()
    parts = dict(zip(SPLITS, (splits.train, splits.validation, splits.test)))
    return {name: ([str(t) for t in texts], [splits.label_names[y] for y in labels])
            for name, (texts, labels) in parts.items()}


def write_bbc_csv(folder: Path, delimiter: str = ",") -> dict[str, Path]:
    """One file per split, columns ``article`` and ``topic``, rows in reverse order (the zoo must not care)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (texts, labels) in bbc_parts().items():
        path = paths[name] = folder / f"{name}.{'tsv' if delimiter == chr(9) else 'csv'}"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter)
            writer.writerow(["id", "article", "topic"])
            writer.writerows([i, text, label] for i, (text, label) in reversed(list(enumerate(zip(texts, labels)))))
    return paths


def write_bbc_jsonl(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (texts, labels) in bbc_parts().items():
        path = paths[name] = folder / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"article": t, "topic": y}) + "\n" for t, y in zip(texts, labels)),
                        encoding="utf-8")
    return paths


def write_bbc_folders(folder: Path) -> dict[str, Path]:
    """``folder/SPLIT/<topic>/NNNN.txt``."""
    paths = {}
    for name, (texts, labels) in bbc_parts().items():
        paths[name] = folder / name
        for i, (text, label) in enumerate(zip(texts, labels)):
            path = folder / name / label / f"{i:04d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return paths


def write_image_folders(root: Path, images: np.ndarray, labels, names=None, kind: str = "png") -> Path:
    """``root/<label>/NNNN.png`` (or jpg/bmp/gif) for each image."""
    encode = {"png": tf.io.encode_png, "jpg": tf.io.encode_jpeg}.get(kind)
    for i, (image, label) in enumerate(zip(images, labels)):
        path = root / str(names[label] if names is not None else label) / f"{i:04d}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = image[..., np.newaxis] if image.ndim == 2 else image
        path.write_bytes(encode(pixels).numpy() if encode else encoded_with_pillow(pixels, kind))
    return root


def encoded_with_pillow(pixels: np.ndarray, kind: str) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, format=kind.upper().replace(
        "JPG", "JPEG"))
    return buffer.getvalue()


def write_mnist_folders(root: Path, per_class: int = 40, test_per_class: int = 10) -> dict[str, Path]:
    """The first ``per_class`` MNIST training images of each digit as PNG class folders (``root/train``), and
    ``test_per_class`` test images of each (``root/test``)."""
    splits = load_mnist()
    paths = {}
    for name, (images, labels), count in (("train", splits.train, per_class), ("test", splits.test, test_per_class)):
        chosen = np.concatenate([np.flatnonzero(labels == digit)[:count] for digit in range(10)])
        paths[name] = write_image_folders(root / name, images[chosen], labels[chosen])
    return paths
