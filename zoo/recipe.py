"""The recipe base class: data → model → training → evaluation → validated export.

A recipe subclasses :class:`Recipe`, declares a config dataclass, and overrides the hooks it needs:
``load_data``, ``build_model`` and ``servable`` at least. Everything else (seeding, ``tf.data`` input
pipelines, Keras ``fit`` with a progress bar, TensorBoard logs, per-epoch checkpoints that a killed run
resumes from, NaN guard, evaluation, export and its validation gate) is shared.

Example (a subclass that swaps only the network):

>>> import keras, zoo
>>> class TinyCnn(zoo.get_recipe("cnn_mnist")):
...     def build_model(self):
...         inputs = keras.Input((28, 28), dtype="uint8", name="images")
...         x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
...         return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
>>> result = TinyCnn(TinyCnn.Config(epochs=1, max_examples=500)).run("/tmp/zoo-doc")  # doctest: +SKIP
>>> result.metrics["test_accuracy"] > 0.5                                              # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from zoo.config import RecipeConfig
from zoo.data.splits import Splits
from zoo.distribute import is_chief, worker_dir
from zoo.export import ExportResult, Servable, export


@dataclasses.dataclass(frozen=True)
class QualityBar:
    """A stated quality bar: ``metric op value`` with op ``>=`` or ``<=``.

    >>> QualityBar("test_accuracy", ">=", 0.994).met({"test_accuracy": 0.995})
    True
    """

    metric: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"quality bar op must be '>=' or '<=', got {self.op!r}")

    def met(self, metrics: dict[str, float]) -> bool | None:
        """True/False, or None when the metric was not measured."""
        if self.metric not in metrics:
            return None
        value = metrics[self.metric]
        return value >= self.value if self.op == ">=" else value <= self.value

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclasses.dataclass
class RunResult:
    """What :meth:`Recipe.run` returns."""

    recipe: str
    config: dict[str, Any]
    metrics: dict[str, float]
    bars: tuple[QualityBar, ...]
    train_examples: int
    wall_seconds: float
    export: ExportResult | None
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """A one-screen summary of the run."""
        lines = [f"{self.recipe}: {self.train_examples} training examples, {self.config.get('epochs')} epochs, "
                 f"{self.wall_seconds:.1f} s"]
        lines += [f"  {k:<28} {v:.4f}" for k, v in sorted(self.metrics.items())]
        for bar in self.bars:
            verdict = {True: "met", False: "NOT met", None: "not measured"}[bar.met(self.metrics)]
            lines.append(f"  quality bar {bar}: {verdict}")
        if self.export is not None:
            lines.append(f"  exported {self.export.path} (gate passed: {sum(self.export.gate.signatures_run.values())} "
                         f"warmup requests over {len(self.export.gate.signatures_run)} signatures)")
            lines.append(f"  models.config: {self.export.models_config}")
        return "\n".join(lines)


class Recipe:
    """Base class of every recipe. Subclass it, register it with ``@zoo.register(name)``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    data_summary: ClassVar[str] = ""
    bars: ClassVar[tuple[QualityBar, ...]] = ()
    Config: ClassVar[type[RecipeConfig]] = RecipeConfig
    #: Config overrides for a seconds-long run that still passes through every step (data, fit, evaluate,
    #: export, gate). The registry-wide test runs every registered recipe with it: set it, and a new recipe
    #: is under test.
    tiny: ClassVar[dict[str, Any]] = {"epochs": 1, "max_examples": 64}

    def __init__(
        self,
        config: RecipeConfig | None = None,
        *,
        run_dir: str | Path | None = None,
        strategy: tf.distribute.Strategy | None = None,
        verbose: int | str = "auto",
    ) -> None:
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise TypeError(f"{type(self).__name__} takes a {self.Config.__name__}, got {type(self.config).__name__}")
        self.strategy = strategy or tf.distribute.get_strategy()
        default_run_dir = Path("runs") / (self.name or type(self).__name__) / self.config_digest()
        self.run_dir = worker_dir(run_dir or default_run_dir, self.strategy)
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose

    # ----------------------------------------------------------------------------------------- hooks
    def load_data(self) -> Splits:
        """Train/validation/test arrays. Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_data()")

    def build_model(self) -> keras.Model:
        """The Keras model to train (built inside the strategy scope). Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_model()")

    def servable(self, model: keras.Model, splits: Splits) -> Servable:
        """The serving signatures to export, with warmup inputs drawn from ``splits``. Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement servable()")

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

    def metrics(self) -> list[Any]:
        return ["accuracy"]

    def optimizer(self, total_steps: int) -> keras.optimizers.Optimizer:
        """Adam with the configured learning rate, cosine-decayed to 0 over training."""
        schedule = keras.optimizers.schedules.CosineDecay(self.config.learning_rate, max(total_steps, 1))
        return keras.optimizers.Adam(schedule)

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        """Compile inside the strategy's scope (:meth:`run` calls it there), with XLA when :meth:`uses_xla`."""
        model.compile(optimizer=self.optimizer(total_steps), loss=self.loss(), metrics=self.metrics(),
                      jit_compile=self.uses_xla())

    def uses_xla(self) -> bool:
        """Whether training steps compile with XLA: the ``jit_compile`` config key, which asks for what Keras
        never picks by itself on a CPU-only machine (for small convnets it roughly doubles training throughput
        there). As in Keras, it stays off under a distribution strategy and with op determinism.
        """
        return self.config.jit_compile and not self.config.deterministic and not tf.distribute.has_strategy()

    def callbacks(self) -> list[keras.callbacks.Callback]:
        """TerminateOnNaN, per-epoch backup for resuming a killed run, TensorBoard logs."""
        return [
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.BackupAndRestore(str(self.run_dir / "backup")),
            keras.callbacks.TensorBoard(str(self.run_dir / "logs"), write_graph=False),
        ]

    # ------------------------------------------------------------------------------------- machinery
    def config_digest(self) -> str:
        """A short hash of the config: the run directory's name, so the same arguments resume the same run."""
        blob = json.dumps(self.config.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def prepare(self, splits: Splits) -> Splits:
        """Apply ``max_examples`` to the loaded splits."""
        return splits.capped(self.config.max_examples)

    def dataset(self, features: np.ndarray, labels: np.ndarray, training: bool) -> tf.data.Dataset:
        """A batched, prefetched ``tf.data`` pipeline over in-memory arrays (shuffled when ``training``)."""
        ds = tf.data.Dataset.from_tensor_slices((features, labels))
        if training:
            ds = ds.shuffle(len(labels), seed=self.config.seed, reshuffle_each_iteration=True)
        ds = ds.batch(self.config.batch_size)
        seeds = tf.data.Dataset.random(seed=self.config.seed, rerandomize_each_iteration=True).batch(2)

        def preprocess(batch, seed):
            return self.preprocess(*batch, training, seed)

        ds = tf.data.Dataset.zip(ds, seeds).map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        options.deterministic = True
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    def train(self, model: keras.Model, splits: Splits) -> keras.callbacks.History:
        validation = self.dataset(*splits.validation, training=False) if splits.validation else None
        return model.fit(
            self.dataset(*splits.train, training=True),
            validation_data=validation,
            epochs=self.config.epochs,
            shuffle=False,  # the pipeline shuffles
            callbacks=self.callbacks(),
            verbose=self.verbose,
        )

    def evaluate(self, model: keras.Model, splits: Splits) -> dict[str, float]:
        """Test-split metrics, prefixed ``test_``."""
        scores = model.evaluate(self.dataset(*splits.test, training=False), return_dict=True, verbose=0)
        return {f"test_{k}": float(v) for k, v in scores.items()}

    def run(self, export_dir: str | Path = "saved_models", version: int | None = None) -> RunResult:
        """Train, evaluate and export; return the metrics and where the export went."""
        started = time.perf_counter()
        keras.utils.set_random_seed(self.config.seed)
        if self.config.deterministic:
            tf.config.experimental.enable_op_determinism()
        splits = self.prepare(self.load_data())
        steps_per_epoch = math.ceil(len(splits.train[1]) / self.config.batch_size)
        with self.strategy.scope():
            model = self.build_model()
            self.compile_model(model, steps_per_epoch * self.config.epochs)
        history = self.train(model, splits) if self.config.epochs > 0 else None
        metrics = self.evaluate(model, splits)
        result = self._export(model, splits, metrics, export_dir, version)
        return RunResult(
            recipe=self.name,
            config=self.config.to_dict(),
            metrics=metrics,
            bars=self.bars,
            train_examples=len(splits.train[1]),
            wall_seconds=time.perf_counter() - started,
            export=result,
            history={k: [float(v) for v in values] for k, values in getattr(history, "history", {}).items()},
        )

    def _export(self, model, splits, metrics, export_dir, version) -> ExportResult | None:
        card = {"config": self.config.to_dict(), "metrics": metrics, "data": splits.provenance.to_dict()}
        if is_chief(self.strategy):
            return export(self.servable(model, splits), model_name=self.name, export_root=export_dir,
                          card=card, version=version)
        # Non-chief workers take part in saving (it may run collectives) but publish nothing.
        scratch = Path(tempfile.mkdtemp(prefix="zoo-worker-export-"))
        try:
            export(self.servable(model, splits), model_name=self.name, export_root=scratch, card=card)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None
