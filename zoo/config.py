"""Typed recipe configs and their layered overrides: defaults, then a file, then ``--set``.

Every recipe declares a dataclass that subclasses :class:`RecipeConfig`. Its fields are the recipe's keys;
``field(default, help, within="[1, inf)")`` documents them and declares the values they accept, once, next
to the key. Values from files and the command line are parsed by the field's declared type, unknown keys
are refused, and every number (each element of a tuple, too) is checked against its key's interval. A
recipe that redeclares a base key (``epochs``, ``batch_size``…) to change its default keeps the base range.

Example:

>>> import dataclasses
>>> @dataclasses.dataclass
... class MyConfig(RecipeConfig):
...     width: int = field(64, "units in the hidden layer", within="[1, 4096]")
>>> cfg = apply_overrides(MyConfig(), {"width": "128", "epochs": 3})
>>> cfg.width, cfg.epochs
(128, 3)
>>> apply_overrides(MyConfig(), {"width": "0"})
Traceback (most recent call last):
...
zoo.errors.UsageError: width=0 is out of range: width must be in [1, 4096]
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from pathlib import Path
from typing import Any, Mapping

from zoo.errors import UsageError


_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])\s*$")


@dataclasses.dataclass(frozen=True)
class Interval:
    """The values a numeric key accepts, in interval notation: ``[1, inf)``, ``(0, 1]``, ``[0, 1)``.

    ``[``/``]`` include the bound, ``(``/``)`` exclude it; ``inf`` leaves a side open. NaN is in no interval.

    >>> Interval.parse("[0, 1)").contains(0.0), Interval.parse("[0, 1)").contains(1.0)
    (True, False)
    >>> str(Interval.parse("(0,inf)")), str(Interval.parse("[0, 4294967295]")), str(Interval.parse("[0.5, 1)"))
    ('(0, inf)', '[0, 4294967295]', '[0.5, 1)')
    """

    low: float
    high: float
    low_closed: bool
    high_closed: bool

    @classmethod
    def parse(cls, text: str) -> "Interval":
        match = _INTERVAL.match(text)
        if not match:
            raise ValueError(f"not an interval: {text!r} (write e.g. '[1, inf)' or '(0, 1]')")
        opening, low, high, closing = match.groups()
        interval = cls(float(low), float(high), opening == "[", closing == "]")
        if not interval.low <= interval.high:
            raise ValueError(f"empty interval: {text!r}")
        return interval

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    def __str__(self) -> str:
        def bound(x: float) -> str:
            if math.isinf(x):
                return "inf" if x > 0 else "-inf"
            return str(int(x)) if x.is_integer() else repr(x)

        return f"{'[' if self.low_closed else '('}{bound(self.low)}, {bound(self.high)}{']' if self.high_closed else ')'}"


def _numbers(value: Any) -> tuple:
    """The numbers a value holds: itself, or each element of a list or tuple (bools and text are not numbers)."""
    items = value if isinstance(value, (list, tuple)) else (value,)
    return tuple(v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool))


def field(default: Any, help: str, *, within: str | None = None, **kwargs: Any) -> Any:
    """A config field with a default, a help line and optionally the interval its numbers must lie in.

    All three are shown by ``python -m zoo.run RECIPE --help``; ``within`` applies to each element of a tuple.
    """
    metadata = {"help": help}
    if within is not None:
        interval = Interval.parse(within)
        outside = [v for v in _numbers(default) if not interval.contains(v)]
        if outside:
            raise ValueError(f"default {default!r} is not in {interval}")
        metadata["within"] = interval
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


@dataclasses.dataclass
class RecipeConfig:
    """Keys every recipe accepts."""

    # Old key names a recipe still accepts from --set and config files, each mapped to its key today.
    renamed: typing.ClassVar[dict[str, str]] = {}

    epochs: int = field(1, "passes over the training data", within="[0, inf)")
    batch_size: int = field(128, "examples per training step (global, across replicas)", within="[1, inf)")
    learning_rate: float = field(1e-3, "peak learning rate", within="(0, inf)")
    seed: int = field(0, "seed for Python, NumPy and TensorFlow random numbers", within="[0, 4294967295]")
    deterministic: bool = field(False, "bit-identical reruns (tf.config.experimental.enable_op_determinism; slower)")
    jit_compile: bool = field(False, "compile the training step with XLA (off under tf.distribute and with deterministic)")
    max_examples: int = field(0, "cap on training examples, 0 = all (for smoke runs)", within="[0, inf)")
    min_epoch_examples: int = field(0, "an epoch passes over the training data as often as it takes to show at "
                                       "least this many examples, so a small data set gets the training the epochs "
                                       "were set for; 0 = once", within="[0, inf)")
    early_stopping: int = field(3, "stop once the validation loss has not improved for this many epochs and keep the "
                                   "best epoch's weights (averaged weights are kept as they are); 0 = off",
                                within="[0, inf)")
    data: str = field("package", "training data: 'package' (the recipe's bundled data), 'tfds:NAME[/CONFIG]', or a "
                                 "path: .csv .tsv .jsonl .json .npz, or a folder (docs/data.md)")
    validation_data: str = field("", "validation data, in the forms data takes (empty: cut from data by "
                                     "validation_fraction, or the source's own validation split)")
    test_data: str = field("", "test data, in the forms data takes (empty: cut from data by test_fraction, or the "
                               "source's own test split)")
    split_seed: int = field(0, "chooses the deterministic stratified split of data (seed does not)",
                            within="[0, 4294967295]")
    validation_fraction: float = field(0.1, "share of each class cut from data for validation when no validation "
                                            "split is given (0 = none)", within="[0, 1)")
    test_fraction: float = field(0.2, "share of each class cut from data for testing when no test split is given",
                                 within="[0, 1)")

    def validate(self) -> None:
        """Cross-key checks; a recipe's config that adds its own calls ``super().validate()`` first."""
        if self.validation_fraction + self.test_fraction >= 1:
            raise UsageError(f"validation_fraction {self.validation_fraction} + test_fraction {self.test_fraction} "
                             "leave nothing for training; their sum must be below 1")
        for key in ("data", "validation_data", "test_data"):
            value = getattr(self, key)
            if value != value.strip() or (key == "data" and not value):
                raise UsageError(f"{key}={value!r}: give 'package', 'tfds:NAME' or a path (without surrounding "
                                 "spaces)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ClassifierConfig(RecipeConfig):
    """Keys of a recipe that learns classes from labels."""

    label_column: str = field("label", "column (CSV/TSV header, JSON key, tfds feature) holding the label")
    class_weight: str = field("auto", "'auto' (balanced when the largest class has 3x the examples of the smallest, "
                                      "and says so), 'balanced' or 'none'")

    def validate(self) -> None:
        super().validate()
        if self.class_weight not in CLASS_WEIGHTS:
            raise UsageError(f"class_weight={self.class_weight!r}: choose one of {', '.join(CLASS_WEIGHTS)}")


CLASS_WEIGHTS = ("auto", "balanced", "none")


FLOAT32, BFLOAT16 = "float32", "bfloat16"
PRECISIONS = (FLOAT32, BFLOAT16)


@dataclasses.dataclass
class PrecisionConfig(RecipeConfig):
    """Keys of a recipe whose export may compute in a lower precision (:mod:`zoo.export.precision`).

    >>> PrecisionConfig(precision="int8").validate()
    Traceback (most recent call last):
    zoo.errors.UsageError: precision='int8': choose one of float32, bfloat16
    """

    precision: str = field(FLOAT32, "what the export computes in: 'float32', or 'bfloat16' (float32 weights, "
                                    "bfloat16 math; compared with float32 on the test split first, see docs/export.md)")

    def validate(self) -> None:
        super().validate()
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision={self.precision!r}: choose one of {', '.join(PRECISIONS)}")


@dataclasses.dataclass
class TextDataConfig(RecipeConfig):
    """Keys of a recipe that reads text."""

    text_column: str = field("text", "column (CSV/TSV header, JSON key, tfds feature) holding the text")
    label_column: str = field("label", "column (CSV/TSV header, JSON key, tfds feature) holding the label")
    encoding: str = field("utf-8", "encoding of text files (CSV/TSV/JSON, .txt); e.g. cp1252, latin-1")

    def validate(self) -> None:
        super().validate()
        from zoo.data.text_files import check_encoding

        check_encoding(self.encoding)


@dataclasses.dataclass
class TextClassifierConfig(TextDataConfig, ClassifierConfig):
    """Keys of a recipe that classifies text."""


@dataclasses.dataclass
class PairDataConfig(TextDataConfig):
    """Keys of a recipe that learns text → text (labelled text also works: text → its label)."""

    source_column: str = field("source", "column (CSV/TSV header, JSON key, tfds feature) holding the input text")
    target_column: str = field("target", "column holding the text to generate")
    source_prefix: str = field("", "text put before every input, e.g. 'summarize: '")


MAX_BEAMS = 16  # most beams, and most sampled sequences per input, one decoding may run


@dataclasses.dataclass
class GenerationConfig(RecipeConfig):
    """Keys of a recipe that generates text: how evaluation and ``serving_default`` decode (its ``generate``
    signature takes them per request, but for ``length_penalty`` and ``beam_early_stopping``, fixed at export).
    Sampling draws with ``seed``. The recipe declares ``max_new_tokens`` itself."""

    num_beams: int = field(1, "beams of evaluation and serving_default's beam search; 1 = greedy or sampling",
                           within=f"[1, {MAX_BEAMS}]")
    do_sample: bool = field(False, "evaluation and serving_default sample (temperature, top_k, top_p; seeded by "
                                   "seed) instead of searching")
    temperature: float = field(1.0, "sampling: logits divided by this", within="(0, inf)")
    top_k: int = field(0, "sampling: only the k most probable tokens; 0 = off", within="[0, inf)")
    top_p: float = field(1.0, "sampling: only the most probable tokens holding this probability; 1 = off",
                         within="(0, 1]")
    length_penalty: float = field(1.0, "beam search scores sum(log p) / length ** length_penalty (fixed at export, "
                                       "for serving_default and generate; above 0 favours longer sequences)",
                                  within="(-inf, inf)")
    beam_early_stopping: bool = field(False, "beam search stops an input once num_beams hypotheses are finished "
                                             "(Hugging Face's early_stopping=True); False: when no running beam can "
                                             "beat them (fixed at export)")

    def validate(self) -> None:
        super().validate()
        if self.do_sample and self.num_beams > 1:
            raise UsageError("do_sample with num_beams > 1 (beam sampling) is not supported; choose one")


@dataclasses.dataclass
class ImageDataConfig(RecipeConfig):
    """Keys of a recipe that reads images."""

    label_column: str = field("label", "tfds feature holding the label (folders and .npz say it by their layout)")
    image_size: str = field("", "HxW: resize every image to it (empty: keep the data's size, which all images must "
                                "share)")

    def validate(self) -> None:
        super().validate()
        from zoo.data.images import parse_image_size

        parse_image_size(self.image_size)


@dataclasses.dataclass
class ImageClassifierConfig(ImageDataConfig, ClassifierConfig):
    """Keys of a recipe that classifies images."""


@dataclasses.dataclass(frozen=True)
class KeyInfo:
    """One config key as ``--help`` shows it."""

    name: str
    type_name: str
    default: Any
    help: str
    within: Interval | None = None


def _field_types(config_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


def interval_of(config_cls: type, name: str) -> Interval | None:
    """The interval declared for key ``name``: by the class itself, or else by the nearest base declaring one."""
    for klass in config_cls.__mro__:
        declared = getattr(klass, "__dataclass_fields__", {}).get(name)
        if declared is not None and "within" in declared.metadata:
            return declared.metadata["within"]
    return None


def describe(config_cls: type[RecipeConfig]) -> list[KeyInfo]:
    """Every key of a config class with its type, default, help and interval, in declaration order."""
    hints = _field_types(config_cls)
    instance = config_cls()
    return [
        KeyInfo(f.name, _type_name(hints[f.name]), getattr(instance, f.name), f.metadata.get("help", ""),
                interval_of(config_cls, f.name))
        for f in dataclasses.fields(config_cls)
    ]


def check_ranges(config: RecipeConfig) -> None:
    """Raise UsageError naming the first key whose number (or any element of its tuple) is outside its interval."""
    for f in dataclasses.fields(config):
        interval = interval_of(type(config), f.name)
        value = getattr(config, f.name)
        if interval is None or all(interval.contains(v) for v in _numbers(value)):
            continue
        shown = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        each = "each value of " if isinstance(value, (list, tuple)) else ""
        raise UsageError(f"{f.name}={shown} is out of range: {each}{f.name} must be in {interval}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _parse_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _parse_str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(value)
    return str(value)


_PARSERS = {bool: _parse_bool, int: _parse_int, float: _parse_float, str: _parse_str}


def parse_value(key: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` (a string from ``--set`` or a value from a file) to the key's declared type.

    Lists (``list[int]``, ``tuple[str, ...]``) take a comma-separated string or a list.
    """
    origin = typing.get_origin(tp)
    if tp not in _PARSERS and origin not in (list, tuple):
        raise UsageError(f"config key {key!r} has a type the zoo cannot parse: {tp!r}")
    try:
        if tp in _PARSERS:
            return _PARSERS[tp](value)
        item_tp = (typing.get_args(tp) or (str,))[0]
        items = value if isinstance(value, (list, tuple)) else [v for v in str(value).split(",") if v.strip()]
        return origin(parse_value(key, item_tp, item) for item in items)
    except (TypeError, ValueError):
        raise UsageError(f"bad value for {key!r}: {value!r} is not a valid {_type_name(tp)}") from None


def apply_overrides(config: RecipeConfig, overrides: Mapping[str, Any]) -> RecipeConfig:
    """A copy of ``config`` with ``overrides`` applied; unknown keys and bad values raise UsageError."""
    hints = _field_types(type(config))
    known = [f.name for f in dataclasses.fields(config)]
    changes = {}
    for key, value in overrides.items():
        key = _current_name(type(config), key, overrides)
        if key not in known:
            raise UsageError(f"unknown config key {key!r}; known keys: {', '.join(known)}")
        changes[key] = parse_value(key, hints[key], value)
    updated = dataclasses.replace(config, **changes)
    check(updated)
    return updated


def _current_name(config_cls: type[RecipeConfig], key: str, overrides: Mapping[str, Any]) -> str:
    """``key``, or the key it was renamed to; giving both names is a UsageError."""
    new = config_cls.renamed.get(key)
    if new is None:
        return key
    if new in overrides:
        raise UsageError(f"{key!r} is the old name of {new!r}; give only {new!r}")
    return new


def check(config: RecipeConfig) -> None:
    """Every check of a config, wherever it was built (``--set``, a file, Python): the declared ranges, then the
    config's own cross-key ``validate()`` if it has one. Raises UsageError."""
    check_ranges(config)
    if hasattr(config, "validate"):
        config.validate()


def parse_set_options(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; a pair without ``=`` is a UsageError."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE, got {pair!r}")
        result[key.strip()] = value
    return result


MAX_CONFIG_BYTES = 1_000_000  # a config of a few dozen keys is a few kB
MAX_CONFIG_DEPTH = 8  # a mapping of keys to scalars and lists: depth 2, or 3 with a list of lists


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping of config keys.

    A config is small and flat, so a file over :data:`MAX_CONFIG_BYTES`, nested past :data:`MAX_CONFIG_DEPTH`, or
    (YAML) using an alias (``*name``: the way a few lines expand into gigabytes) is refused before it is built.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UsageError(f"config file {path} is {path.stat().st_size:,} bytes; a config is at most "
                         f"{MAX_CONFIG_BYTES:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"config file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                         f"{exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = _load_yaml(text, path)
    except UsageError:
        raise
    except Exception as exc:  # the parsers raise many types; all mean the same thing here
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot parse config file {path}: {first_line}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a mapping of keys to values")
    if _depth(data) > MAX_CONFIG_DEPTH:
        raise UsageError(f"config file {path} nests deeper than {MAX_CONFIG_DEPTH} levels")
    return data


def _load_yaml(text: str, path: Path) -> Any:
    """``yaml.safe_load`` once the events (read without expanding anything) show no alias: without aliases, what a
    file of at most :data:`MAX_CONFIG_BYTES` builds is no larger than the file."""
    import yaml

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise UsageError(f"config file {path}, line {event.start_mark.line + 1}: YAML aliases "
                             f"(*{event.anchor}) are not accepted in a config")
    return yaml.safe_load(text)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0
