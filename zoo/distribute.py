"""Choosing a ``tf.distribute`` strategy by name, and knowing which worker is the chief."""

from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from zoo.errors import UsageError
from zoo.run_files import task_run_dir

STRATEGIES = ("default", "mirrored", "multi_worker")


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """``default`` (one device), ``mirrored`` (all local devices) or ``multi_worker`` (from ``TF_CONFIG``)."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise UsageError("--strategy multi_worker needs TF_CONFIG (use `python -m zoo.launch` to set it)")
        return _MultiWorkerMirroredStrategy()
    raise UsageError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


# dtypes the collective all-reduce between workers carries; others are reduced in float32 and cast back
_COLLECTIVE_DTYPES = (tf.bfloat16, tf.float16, tf.float32, tf.float64, tf.int32, tf.int64)


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes what Keras 3's ``fit`` hands it.

    Keras 3 (keras-team/keras#20585) reduces a whole ``(features, labels)`` batch, uint8 images and raw text
    included, to learn its shapes, and reduces scalar metrics with ``axis=0``. The stock strategy rejects a nest
    ("Attempt to convert a value (PerReplica...)"), the collective op rejects uint8 and strings, and a scalar has
    no axis 0. Here a nest is reduced value by value, numbers the collective cannot carry go through float32,
    values that are not numbers (strings) are not reduced (this worker's own is returned), and scalars are
    reduced across replicas only.
    """

    def reduce(self, reduce_op, value, axis):
        reduce_one = super().reduce

        def reduce_value(v):
            local = self.experimental_local_results(v)[0]
            one_axis = None if local.shape.rank == 0 else axis
            if local.dtype in _COLLECTIVE_DTYPES:
                return reduce_one(reduce_op, v, one_axis)
            if not (local.dtype.is_integer or local.dtype.is_floating or local.dtype.is_bool):
                return local
            widened = self.run(lambda t: tf.cast(t, tf.float32), args=(v,))
            return tf.cast(reduce_one(reduce_op, widened, one_axis), local.dtype)

        return tf.nest.map_structure(reduce_value, value)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def worker_dir(run_dir: str | Path, strategy: tf.distribute.Strategy) -> Path:
    """``run_dir`` for the chief, ``run_dir/worker-I`` for other workers: their backups and logs never collide.

    >>> worker_dir("runs/x", tf.distribute.get_strategy())
    PosixPath('runs/x')
    """
    if is_chief(strategy):
        return Path(run_dir)
    resolver = strategy.cluster_resolver
    return task_run_dir(run_dir, resolver.task_type, resolver.task_id, chief=False)
