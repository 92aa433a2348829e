"""The recipe contract: ``load_data`` → ``fit`` → ``evaluate`` → ``servable``, driven by :meth:`Recipe.run`.

A recipe tells its whole story in four steps, each with one job, each handing the next what it made:

- ``load_data() -> Splits``: the train / validation / test arrays, read through the data layer
  (:mod:`zoo.data.examples`; ``run`` then applies ``max_examples``);
- ``fit(splits) -> Trained``: everything that learns (vocabularies, pretraining, Keras ``fit``, KMeans, …),
  returned as a value: a :class:`Trained` (or a recipe's own subclass of it), never attributes set on the way;
- ``evaluate(trained, splits) -> dict``: test-split metrics, measuring only;
- ``servable(trained, splits) -> Servable``: the serving signatures and their warmup inputs.

The default ``fit`` is Keras ``fit`` on :meth:`Recipe.build_model`, with the pieces a Keras user swaps one at a
time (``build_model``, ``preprocess``, ``loss``, ``keras_metrics``, ``optimizer``, ``callbacks``). A recipe whose
training is more than that writes its own ``fit`` and calls the same tools (:meth:`Recipe.compiled`,
:meth:`Recipe.fit_keras`, :meth:`Recipe.dataset`). :meth:`Recipe.run` is the driver; no recipe overrides it.

A recipe's name is its registration (``@zoo.register``); a subclass that is not registered gets a name of its own
from its class name, so it never publishes into its parent's model directory.

Example (a subclass that swaps only the network):

>>> import keras, zoo
>>> class TinyCnn(zoo.get_recipe("cnn_mnist")):
...     def build_model(self, splits):
...         inputs = keras.Input(splits.feature_shape, dtype="uint8", name="images")
...         x = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
...         return keras.Model(inputs, keras.layers.Dense(len(splits.label_names), activation="softmax")(x))
>>> TinyCnn.name
'tiny_cnn'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import keras
import tensorflow as tf

from zoo.bars import QualityBar
from zoo.config import FLOAT32, RecipeConfig
from zoo.config import check as check_config
from zoo.data.splits import Splits
from zoo.distribute import is_chief, worker_dir
from zoo.errors import UsageError
from zoo.export import ExportResult, Servable, export
from zoo.export.precision import serving_precision
from zoo.quiet import known_notices_quieted
from zoo.registry import registered
from zoo.run_lock import holding_run_dir
from zoo.training import KerasTraining


@dataclasses.dataclass
class Trained:
    """What a recipe's :meth:`Recipe.fit` produced: the trained Keras model and its per-epoch history.

    Recipes whose training yields more (a vocabulary, a fitted KMeans, pretraining figures) subclass it, so
    ``evaluate``, ``servable``, benches and tests all read the same value.

    >>> import keras
    >>> trained = Trained(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), {"loss": [0.5, 0.25]})
    >>> trained.history["loss"][-1]
    0.25
    """

    model: keras.Model
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunResult:
    """What :meth:`Recipe.run` returns: the metrics, the :class:`Trained` value, and where the export went."""

    recipe: str
    config: dict[str, Any]
    metrics: dict[str, float]
    bars: tuple[QualityBar, ...]
    train_examples: int
    wall_seconds: float
    export: ExportResult | None
    trained: Trained

    def report(self) -> str:
        """The one-screen report printed at the end of ``python -m zoo.run``."""
        lines = [f"{self.recipe}: {self.train_examples} training examples, {self.config.get('epochs')} epochs, "
                 f"{self.wall_seconds:.1f} s"]
        lines += [f"  {k:<28} {v:.4f}" for k, v in sorted(self.metrics.items())]
        for bar in self.bars:
            verdict = {True: "met", False: "NOT met", None: "not measured"}[bar.met(self.metrics)]
            lines.append(f"  quality bar {bar}: {verdict}")
        if self.export is not None:
            gate = self.export.gate
            agreement = ("" if gate.least_agreement == 1.0 else
                         f"; at least {gate.least_agreement:.1%} of each discrete output equal to in-memory")
            lines.append(f"  exported {self.export.path} (gate passed: {sum(gate.signatures_run.values())} "
                         f"warmup requests over {len(gate.signatures_run)} signatures{agreement})")
            lines.append(f"  models.config: {self.export.models_config}")
            if self.export.precision.get("dtype", FLOAT32) != FLOAT32:
                lines.append("  precision " + ", ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                                                        for k, v in self.export.precision.items()))
        return "\n".join(lines)


def snake_case(class_name: str) -> str:
    """``LinearMnist`` → ``linear_mnist``: the name of a recipe class that is not registered.

    >>> snake_case("BertMLM2")
    'bert_mlm2'
    """
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", class_name).lower()


class Recipe(KerasTraining):
    """Base of every recipe: subclass it, write ``load_data``, ``fit`` (or ``build_model``) and ``servable``,
    and register it with ``@zoo.register(name)``. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    data_summary: ClassVar[str] = ""
    bars: ClassVar[tuple[QualityBar, ...]] = ()
    Config: ClassVar[type[RecipeConfig]] = RecipeConfig
    #: Config overrides for a seconds-long run that still passes through every step (data, fit, evaluate,
    #: export, gate). The registry-wide test runs every registered recipe with it: set it, and a new recipe
    #: is under test.
    tiny: ClassVar[dict[str, Any]] = {"epochs": 1, "max_examples": 64}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = snake_case(cls.__name__)  # @zoo.register replaces it; a subclass never inherits its parent's

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
        check_config(self.config)  # a config built in Python is checked as --set values are
        self.strategy = strategy or tf.distribute.get_strategy()
        self.run_dir = worker_dir(run_dir or Path("runs") / self.name / self.config_digest(), self.strategy)
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose

    # ------------------------------------------------------------------------------ the four steps
    def load_data(self) -> Splits:
        """Train/validation/test arrays. Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement load_data()")

    def fit(self, splits: Splits) -> Trained:
        """Keras ``fit`` of :meth:`build_model` on the training split (validation split monitored).

        Override for training that is more than one Keras ``fit``; return what it produced.
        """
        model = self.compiled(lambda: self.build_model(splits), self.steps_per_epoch(splits) * self.config.epochs)
        validation = self.dataset(*splits.validation, training=False) if splits.validation else None
        history = self.fit_keras(model, self.dataset(*splits.train, training=True), validation,
                                 class_weight=self.class_weights(splits))
        return Trained(model, history)

    def evaluate(self, trained: Trained, splits: Splits) -> dict[str, float]:
        """Test-split metrics of ``trained.model`` with its compiled loss and metrics, prefixed ``test_``."""
        scores = trained.model.evaluate(self.dataset(*splits.test, training=False), return_dict=True, verbose=0)
        return {f"test_{k}": float(v) for k, v in scores.items()}

    def servable(self, trained: Trained, splits: Splits) -> Servable:
        """The serving signatures to export, with warmup inputs drawn from ``splits``. Override."""
        raise NotImplementedError(f"{type(self).__name__} must implement servable()")

    def retraced(self, trained: Trained) -> Trained:
        """``trained`` with the traced functions it holds traced anew, so they compute in the layers' dtype policy of
        the moment (an export at ``precision=bfloat16``: :mod:`zoo.export.precision`). Recipes whose ``fit`` returns
        traced functions override it; the default holds none and returns ``trained``."""
        return trained

    def resolve_config(self, splits: Splits) -> RecipeConfig:
        """The config with every key that defaults to the data resolved (e.g. ``sequence_length=0``: from the
        training texts' lengths); ``run`` trains with it and the model card records it. Unchanged by default."""
        return self.config

    # ------------------------------------------------------------ the network the default fit trains
    def build_model(self, splits: Splits) -> keras.Model:
        """The Keras model the default :meth:`fit` trains (built inside the strategy scope); ``splits`` says what it
        must fit: ``splits.feature_shape`` (one example's input) and ``splits.label_names`` (its classes)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_model() or fit()")

    # -------------------------------------------------------------------------------- the driver
    def config_digest(self) -> str:
        """A short hash of the recipe class and its config: the run directory's name, so the same arguments
        resume the same run, and another class (even with the same config) never resumes into it."""
        identity = {"class": f"{type(self).__module__}.{type(self).__qualname__}", "config": self.config.to_dict()}
        blob = json.dumps(identity, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def run(self, export_dir: str | Path = "saved_models", version: int | None = None) -> RunResult:
        """load_data → fit → evaluate → servable → validated export; the metrics, the Trained value and the export.

        The run holds its run directory (:func:`zoo.run_lock.holding_run_dir`) from before the data is read until
        it returns: a second run of the same directory at the same time is refused at once (UsageError)."""
        check_publishable(type(self))
        with holding_run_dir(self.run_dir), known_notices_quieted():
            return self._run(export_dir, version)

    def _run(self, export_dir: str | Path, version: int | None) -> RunResult:
        started = time.perf_counter()
        keras.utils.set_random_seed(self.config.seed)
        if self.config.deterministic:
            tf.config.experimental.enable_op_determinism()
        splits = self.load_data().capped(self.config.max_examples)
        self.config = self.resolve_config(splits)
        check_config(self.config)
        passes = self.passes_per_epoch(len(splits.train[0]))
        if passes > 1:
            print(f"{self.name}: {len(splits.train[0])} training examples: each epoch passes over them {passes} times "
                  f"(min_epoch_examples={self.config.min_epoch_examples})", file=sys.stderr)
        trained = self.fit(splits)
        metrics = self.evaluate(trained, splits)
        exported = self._export(trained, splits, metrics, export_dir, version)
        return RunResult(
            recipe=self.name,
            config=self.config.to_dict(),
            metrics=metrics,
            bars=self.bars,
            train_examples=len(splits.train[0]),
            wall_seconds=time.perf_counter() - started,
            export=exported,
            trained=trained,
        )

    def _export(self, trained, splits, metrics, export_dir, version) -> ExportResult | None:
        """The servable at the config's ``precision`` (float32 unless the config has that key and says otherwise),
        exported; the low-precision model is compared with float32 on the test split first."""
        precision = getattr(self.config, "precision", FLOAT32)
        with serving_precision(precision, self, trained, splits) as (servable, precision_card):
            card = {"config": self.config.to_dict(), "metrics": metrics, "data": splits.card(),
                    "precision": precision_card}
            if is_chief(self.strategy):
                return export(servable, model_name=self.name, export_root=export_dir, card=card, version=version)
            # Non-chief workers take part in saving (it may run collectives) but publish nothing.
            scratch = Path(tempfile.mkdtemp(prefix="zoo-worker-export-"))
            try:
                export(servable, model_name=self.name, export_root=scratch, card=card)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return None


def check_publishable(cls: type[Recipe]) -> None:
    """A recipe publishes under its own name only: an unregistered class whose derived name belongs to a
    registered recipe would publish into that recipe's model directory, so it is refused."""
    owner = registered(cls.name)
    if owner is not None and owner is not cls:
        raise UsageError(f"{cls.__qualname__} is not registered, and its name {cls.name!r} belongs to "
                         f"{owner.__module__}.{owner.__qualname__}; register it: @zoo.register('my_name')")
