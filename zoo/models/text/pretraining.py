"""Running a pretrainer (:class:`zoo.models.text.masked_lm.MaskedLM`, :class:`zoo.models.text.electra.ElectraPretrainer`,
t5's span corruption) for a number of steps, its learning curve kept.

Example:

>>> curve_chunk(2000)
100
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf


def curve_chunk(steps: int, most: int = 100) -> int:
    """The largest divisor of ``steps`` up to ``most``: :func:`pretrain` reports its metrics every that many steps.

    >>> curve_chunk(2000), curve_chunk(300), curve_chunk(7), curve_chunk(101)
    (100, 100, 7, 1)
    """
    return next(size for size in range(min(steps, most), 0, -1) if steps % size == 0)


def pretrain(model: keras.Model, dataset: tf.data.Dataset, steps: int, verbose: int | str = "auto") -> float:
    """Fit a compiled pretrainer for ``steps`` batches of ``dataset``; return the wall-clock seconds it took.

    The steps run as Keras epochs of :func:`curve_chunk` steps each (the learning-rate schedule counts steps, so
    it is unchanged), so ``model.history`` holds each metric's mean over every chunk: the learning curve, and
    as its last value where the run ended rather than its mean over the whole run.
    """
    started = time.perf_counter()
    if steps > 0:
        chunk = curve_chunk(steps)
        model.fit(dataset, steps_per_epoch=chunk, epochs=steps // chunk, verbose=verbose,
                  callbacks=[keras.callbacks.TerminateOnNaN()], shuffle=False)  # the dataset shuffles
    return time.perf_counter() - started
