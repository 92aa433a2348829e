"""autoencoder: the default run over seeds against its bar (MNIST test BCE ≤ 0.065 on the mean), plus a PNG of
originals above their reconstructions as the first seed's export serves them
(``bench/results/autoencoder_reconstructions.png``).

    python -m bench autoencoder [--seeds N]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.common import BenchRecord, run_seeds  # noqa: E402
from zoo.data.mnist import load_mnist  # noqa: E402

DEFAULT_SEEDS = 3
SHOWN = 12


def plot_reconstructions(originals: np.ndarray, reconstructions: np.ndarray, path: Path) -> Path:
    """Two rows: the originals, and under each its reconstruction."""
    figure, axes = plt.subplots(2, len(originals), figsize=(len(originals) * 0.9, 2.1))
    for column, (original, reconstruction) in enumerate(zip(originals, reconstructions)):
        for row, image in enumerate((original / 255.0, reconstruction)):
            axes[row, column].imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
            axes[row, column].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    result = run_seeds(record, seeds)
    images = load_mnist().test[0][:SHOWN]
    served = tf.saved_model.load(str(result.export.path)).signatures["serving_default"](images=tf.constant(images))
    path = record.path.parent / "autoencoder_reconstructions.png"
    record.add("figure", plot_reconstructions(images, served["reconstructions"].numpy(), path).name)
