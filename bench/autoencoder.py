"""autoencoder: the default run against its bar (MNIST test BCE ≤ 0.065), plus a PNG of originals above their
reconstructions as the exported model serves them (``bench/results/autoencoder_reconstructions.png``).

    python -m bench autoencoder          # or: python -m bench.autoencoder
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from bench.common import RESULTS_DIR, recipe_result, run_recipe, write_result  # noqa: E402
from zoo.data.mnist import load_mnist  # noqa: E402

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


def run(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    result = run_recipe("autoencoder")
    images = load_mnist().test[0][:SHOWN]
    served = tf.saved_model.load(str(result.export.path)).signatures["serving_default"](images=tf.constant(images))
    figure = plot_reconstructions(images, served["reconstructions"].numpy(), results_dir / "autoencoder_reconstructions.png")
    return {**recipe_result(result), "figure": figure.name}


if __name__ == "__main__":
    print(write_result("autoencoder", run()))
