"""The Keras training toolkit every recipe inherits through :class:`zoo.Recipe`: the pieces of the default ``fit``
a Keras user swaps one at a time (``preprocess``, ``loss``, ``keras_metrics``, ``optimizer``, ``callbacks``) and the
tools a recipe's own ``fit`` calls (:meth:`KerasTraining.compiled`, :meth:`KerasTraining.fit_keras`,
:meth:`KerasTraining.dataset`).

It reads what the recipe sets up: ``config`` (a :class:`zoo.config.RecipeConfig`), ``strategy``, ``run_dir``,
``verbose`` and ``name``.

Example:

>>> import zoo
>>> recipe = zoo.get_recipe("cnn_mnist")(run_dir="unused")
>>> recipe.passes_per_epoch(400), recipe.passes_per_epoch(60000)  # min_epoch_examples 20,000
(50, 1)
"""

from __future__ import annotations

import math
import sys
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from zoo.backup import VerifiedBackupAndRestore
from zoo.data.balance import class_weights
from zoo.data.splits import Splits
from zoo.schedules import cosine_schedule


def history_of(keras_history: keras.callbacks.History | None) -> dict[str, list[float]]:
    """Keras ``fit``'s History as plain floats per metric (empty when nothing was trained)."""
    return {k: [float(v) for v in values] for k, values in getattr(keras_history, "history", {}).items()}



class KerasTraining:
    """Keras training with a recipe's config: a mixin of :class:`zoo.Recipe`; see the module docstring."""

    # ------------------------------------------------------------------ pieces of the default fit
    def preprocess(
        self, features: tf.Tensor, labels: tf.Tensor, training: bool, seed: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Per-batch transformation inside the ``tf.data`` pipeline (augmentation when ``training``).

        ``seed`` is a fresh int64 [2] seed per batch, derived from the config's seed: use it with
        ``tf.random.stateless_*`` ops so augmentation is reproducible even with parallel map calls.
        """
        return features, labels

    def loss(self) -> Any:
        return keras.losses.SparseCategoricalCrossentropy()

    def keras_metrics(self) -> list[Any]:
        """Metrics Keras tracks while training (``evaluate`` reports them on the test split)."""
        return ["accuracy"]

    def keras_weighted_metrics(self) -> list[Any]:
        """Metrics weighted by the sample weights :meth:`preprocess` returns as a third element (t5: token
        accuracy over the targets, padding left out). None by default."""
        return []

    def optimizer(self, total_steps: int) -> keras.optimizers.Optimizer:
        """Adam with the configured learning rate, cosine-decayed to 0 over training."""
        schedule = cosine_schedule(self.config.learning_rate, total_steps)
        return keras.optimizers.Adam(schedule)

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """TerminateOnNaN, per-epoch backup for resuming a killed run (digest-checked before it is loaded),
        TensorBoard logs."""
        return [
            keras.callbacks.TerminateOnNaN(),
            VerifiedBackupAndRestore(str(self.run_dir / "backup")),
            keras.callbacks.TensorBoard(str(self.run_dir / "logs"), write_graph=False),
        ]

    # ------------------------------------------------------------------------ tools fit calls
    def passes_per_epoch(self, examples: int) -> int:
        """How often an epoch passes over ``examples`` training examples: enough for ``min_epoch_examples``."""
        return max(1, math.ceil(self.config.min_epoch_examples / max(examples, 1)))

    def steps_per_epoch(self, splits: Splits) -> int:
        examples = len(splits.train[0])
        return math.ceil(examples * self.passes_per_epoch(examples) / self.config.batch_size)

    def uses_xla(self) -> bool:
        """Whether training steps compile with XLA: the ``jit_compile`` config key, which asks for what Keras
        never picks by itself on a CPU-only machine (for small convnets it roughly doubles training throughput
        there). As in Keras, it stays off under a distribution strategy and with op determinism.
        """
        return self.config.jit_compile and not self.config.deterministic and not tf.distribute.has_strategy()

    def compiled(self, build: Callable[[], keras.Model], total_steps: int,
                 optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
        """``build()`` inside the strategy's scope, compiled with :meth:`loss`, :meth:`keras_metrics` and
        ``optimizer`` (default :meth:`optimizer` over ``total_steps``), with XLA when :meth:`uses_xla`."""
        with self.strategy.scope():
            model = build()
            model.compile(optimizer=optimizer or self.optimizer(total_steps), loss=self.loss(),
                          metrics=self.keras_metrics(), weighted_metrics=self.keras_weighted_metrics() or None,
                          jit_compile=self.uses_xla())
        return model

    def fit_keras(self, model: keras.Model, train: tf.data.Dataset, validation: tf.data.Dataset | None = None,
                  epochs: int | None = None, class_weight: dict[int, float] | None = None) -> dict[str, list[float]]:
        """Keras ``fit`` with :meth:`callbacks` (and early stopping on ``validation``, see :meth:`early_stopping`)
        and the run's progress display; the history as plain floats."""
        epochs = self.config.epochs if epochs is None else epochs
        if epochs <= 0:
            return {}
        stopping = self.early_stopping(model) if validation is not None and self.config.early_stopping > 0 else None
        callbacks = self.callbacks() + ([stopping] if stopping else [])
        history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=callbacks,
                            class_weight=class_weight, shuffle=False, verbose=self.verbose)  # the pipeline shuffles
        if stopping is not None and stopping.stopped_epoch > 0:
            kept = "kept" if stopping.restore_best_weights else "best was"
            print(f"{self.name}: stopped after epoch {stopping.stopped_epoch + 1} of {epochs}: the validation loss "
                  f"had not improved for {stopping.patience} epochs ({kept} epoch {stopping.best_epoch + 1})",
                  file=sys.stderr)
        return history_of(history)

    def early_stopping(self, model: keras.Model) -> keras.callbacks.EarlyStopping:
        """Stop once ``val_loss`` has not improved for ``early_stopping`` epochs, and keep the best epoch's weights,
        unless the optimizer averages the weights (the average it keeps at the end is then the model)."""
        averaging = bool(getattr(model.optimizer, "use_ema", False))
        return keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.config.early_stopping,
                                             restore_best_weights=not averaging)

    def class_weights(self, splits: Splits) -> dict[int, float] | None:
        """Per-class loss weights by the config's ``class_weight`` (:func:`zoo.data.balance.class_weights`), for
        recipes that classify; None for the rest."""
        mode = getattr(self.config, "class_weight", "none")
        if splits.train[1] is None or not splits.label_names:
            return None
        return class_weights(splits.train[1], splits.label_names, mode, self.name)

    def dataset(self, features: np.ndarray | dict[str, np.ndarray], labels: np.ndarray | None,
                training: bool) -> tf.data.Dataset:
        """A batched, prefetched ``tf.data`` pipeline over in-memory arrays (reshuffled each epoch when
        ``training``), through :meth:`preprocess` (which gets ``labels`` None for data without labels).
        ``features`` may be a dict of arrays with as many rows each (a model with several inputs).

        The arrays become one tensor each, and batches gather their rows by a shuffled index, so training holds the
        data once more (in TensorFlow) rather than twice more (sliced, and again in a whole-data shuffle buffer).
        A training epoch passes over the data :meth:`passes_per_epoch` times.
        """
        unlabelled = labels is None
        arrays = tf.nest.map_structure(tf.constant, (features,) if unlabelled else (features, labels))
        examples = len(tf.nest.flatten(features)[0])
        rows = tf.data.Dataset.range(examples)
        if training:
            rows = rows.shuffle(examples, seed=self.config.seed, reshuffle_each_iteration=True)
            rows = rows.repeat(self.passes_per_epoch(examples))  # a fresh order each pass
        seeds = tf.data.Dataset.random(seed=self.config.seed, rerandomize_each_iteration=True).batch(2)

        def preprocess(indices, seed):
            batch = tf.nest.map_structure(lambda array: tf.gather(array, indices), arrays)
            return self.preprocess(*((*batch, None) if unlabelled else batch), training, seed)

        ds = tf.data.Dataset.zip(rows.batch(self.config.batch_size), seeds)
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        options.deterministic = True
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


class TokenPrediction:
    """The driver's compile for a model that predicts tokens (t5, gpt2), mixed in before :class:`zoo.Recipe`:
    cross-entropy from logits and token accuracy, both weighted by the sample weights its ``preprocess`` returns
    (padding weighted 0)."""

    def loss(self) -> keras.losses.Loss:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def keras_metrics(self) -> list:
        return []

    def keras_weighted_metrics(self) -> list:
        return ["accuracy"]
