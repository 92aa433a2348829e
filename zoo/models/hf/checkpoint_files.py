"""Reading a local Hugging Face checkpoint directory: ``config.json``, ``model.safetensors``, and the WordPiece
vocabulary of ``vocab.txt`` or ``tokenizer.json``.

Everything a user points the zoo at is checked here, before any model is built, and every problem is a
:class:`zoo.errors.UsageError` of one line naming the file: a missing directory or file, a ``config.json`` of
another ``model_type`` or with a field an importer reads of the wrong type or out of range (:class:`Field`),
a directory holding only ``pytorch_model.bin`` (the zoo reads weights with ``safetensors``, never with torch), a
tensor that is missing or whose shape disagrees with ``config.json`` (:meth:`CheckpointWeights.check_shapes`, before
anything of that size is built).

Tensor names are looked up as the checkpoint spells them: with or without the architecture's prefix
(``bert.``, ``electra.``), and with either layer-norm naming (``weight``/``bias`` or the older
``gamma``/``beta`` of TF-converted checkpoints). Tensors stored as bfloat16, which numpy has no type for, are
widened to float32 exactly (a bfloat16 is the top half of a float32).

Example:

>>> import json, tempfile
>>> directory = Path(tempfile.mkdtemp())
>>> _ = (directory / "config.json").write_text(json.dumps({"model_type": "bert"}))
>>> read_config(directory, "electra")                                          # doctest: +ELLIPSIS
Traceback (most recent call last):
zoo.errors.UsageError: .../config.json: model_type is 'bert', expected 'electra'
>>> _ = (directory / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": "256"}))
>>> read_config(directory, "bert", {"hidden_size": COUNT})                     # doctest: +ELLIPSIS
Traceback (most recent call last):
zoo.errors.UsageError: .../config.json: hidden_size is '256', expected an integer >= 1
>>> CheckpointWeights(directory)                                               # doctest: +ELLIPSIS
Traceback (most recent call last):
zoo.errors.UsageError: .../model.safetensors: missing

With a real checkpoint (e.g. ``google/electra-small-discriminator``):

>>> config = read_config(directory, "electra")                                 # doctest: +SKIP
>>> weights = CheckpointWeights(directory, prefix="electra.")                  # doctest: +SKIP
>>> config["vocab_size"], config["embedding_size"]                             # doctest: +SKIP
(30522, 128)
>>> weights.get("embeddings.word_embeddings.weight", (30522, 128)).shape       # doctest: +SKIP
(30522, 128)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zoo.errors import UsageError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TORCH_WEIGHTS = "pytorch_model.bin"
VOCABULARY = "vocab.txt"
TOKENIZER = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
_LAYER_NORM_ALIASES = {"LayerNorm.weight": "LayerNorm.gamma", "LayerNorm.bias": "LayerNorm.beta"}


def checkpoint_directory(directory: str | Path) -> Path:
    """``directory`` as a Path, or a UsageError when it is not an existing directory."""
    path = Path(directory)
    if not path.is_dir():
        raise UsageError(f"{path}: no such checkpoint directory")
    return path


@dataclasses.dataclass(frozen=True)
class Field:
    """What one ``config.json`` field an importer reads must be: ``kind`` ``int``, ``number``, ``bool`` or ``str``,
    within ``[minimum, maximum]`` (``minimum`` excluded when ``above``); ``required`` or else optional."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    above: bool = False
    required: bool = True

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit, as "expected …", or None."""
        kinds = {"int": (int,), "number": (int, float), "bool": (bool,), "str": (str,)}[self.kind]
        wrong_type = not isinstance(value, kinds) or (isinstance(value, bool) and self.kind != "bool")
        out_of_range = not wrong_type and self.kind in ("int", "number") and (
            (self.minimum is not None and (value <= self.minimum if self.above else value < self.minimum))
            or (self.maximum is not None and value > self.maximum) or value != value)  # NaN
        return f"expected {self}" if wrong_type or out_of_range else None

    def optional(self) -> Field:
        return dataclasses.replace(self, required=False)

    def __str__(self) -> str:
        name = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{name} in {'(' if self.above else '['}{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f"{name} {'>' if self.above else '>='} {self.minimum:g}"
        return name


COUNT = Field("int", minimum=1)  # a size, a number of layers or heads
FRACTION = Field("number", minimum=0, maximum=1)  # a dropout rate
EPSILON = Field("number", minimum=0, above=True)
FLAG = Field("bool")
NAME = Field("str")


def read_config(directory: str | Path, model_type: str, fields: dict[str, Field] | None = None) -> dict[str, Any]:
    """``config.json`` of ``directory``, which must declare ``model_type``, with each of ``fields`` checked."""
    path = checkpoint_directory(directory) / CONFIG
    if not path.is_file():
        raise UsageError(f"{path}: missing (a Hugging Face checkpoint directory has config.json)")
    config = read_json_object(path)
    if config.get("model_type") != model_type:
        raise UsageError(f"{path}: model_type is {config.get('model_type')!r}, expected {model_type!r}")
    check_fields(config, fields or {}, path)
    return config


def check_fields(config: dict[str, Any], fields: dict[str, Field], path: Path) -> None:
    """One UsageError naming the file and the first field of ``fields`` that is missing or does not fit."""
    for name, field in fields.items():
        if name not in config:
            if field.required:
                raise UsageError(f"{path}: {name} is missing ({field})")
            continue
        problem = field.problem(config[name])
        if problem:
            raise UsageError(f"{path}: {name} is {config[name]!r}, {problem}")


def read_json_object(path: Path) -> dict[str, Any]:
    """A checkpoint's JSON file (``config.json``, ``tokenizer_config.json``, ``tokenizer.json``) as a mapping, or a
    UsageError naming it."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(settings, dict):
        raise UsageError(f"{path}: not a JSON object")
    return settings


def refuse(directory: Path, what: str, problems: Sequence[str]) -> None:
    """Raise one UsageError listing ``problems`` (settings the import cannot express), if there are any."""
    if problems:
        raise UsageError(f"{directory / CONFIG}: cannot import as {what}: " + "; ".join(problems))


class CheckpointWeights:
    """The tensors of ``model.safetensors``, read as numpy with their shapes checked.

    ``prefix`` is the architecture's module name (``"bert."``): names are tried with it first, then without.
    """

    def __init__(self, directory: str | Path, prefix: str = "") -> None:
        directory = checkpoint_directory(directory)
        self.path = directory / WEIGHTS
        if not self.path.is_file():
            if (directory / TORCH_WEIGHTS).is_file():
                raise UsageError(f"{self.path}: missing; only {TORCH_WEIGHTS} is there, which the zoo does not read "
                                 "(it needs torch): save the model with safe_serialization=True")
            raise UsageError(f"{self.path}: missing")
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(self.path), framework="np") as handle:
                self._names = set(handle.keys())
        except (SafetensorError, OSError) as error:
            raise UsageError(f"{self.path}: not a readable safetensors file ({error})") from None
        self.prefix = prefix

    def _resolve(self, name: str) -> str | None:
        candidates = [name]
        for new, old in _LAYER_NORM_ALIASES.items():
            if name.endswith(new):
                candidates.append(name[: -len(new)] + old)
        for candidate in candidates:
            for full in (self.prefix + candidate, candidate):
                if full in self._names:
                    return full
        return None

    def has(self, name: str) -> bool:
        return self._resolve(name) is not None

    def check_shapes(self, expected: dict[str, Sequence[int]]) -> None:
        """Each tensor of ``expected`` is there with that shape (read from the file's header, no data): run before
        a model of ``config.json``'s sizes is built, so a config that disagrees with its weights builds nothing."""
        from safetensors import safe_open

        with safe_open(str(self.path), framework="np") as handle:
            for name, shape in expected.items():
                full = self._resolve(name)
                if full is None:
                    raise UsageError(f"{self.path}: no tensor {self.prefix + name!r} (is {CONFIG}'s layer count "
                                     "right?)")
                stored = list(handle.get_slice(full).get_shape())
                if stored != list(shape):
                    raise UsageError(f"{self.path}: tensor {full!r} has shape {stored}, but {CONFIG} implies "
                                     f"{list(shape)}")

    def get(self, name: str, shape: Sequence[int]) -> np.ndarray:
        """Tensor ``name`` as float32, which must have ``shape`` (what ``config.json`` implies)."""
        full = self._resolve(name)
        if full is None:
            raise UsageError(f"{self.path}: no tensor {self.prefix + name!r}")
        from safetensors import safe_open

        try:
            with safe_open(str(self.path), framework="np") as handle:
                array = handle.get_tensor(full)
        except TypeError:  # numpy cannot represent the stored dtype
            array = self._bfloat16_tensor(full)
        if tuple(array.shape) != tuple(shape):
            raise UsageError(f"{self.path}: tensor {full!r} has shape {list(array.shape)}, "
                             f"but {CONFIG} implies {list(shape)}")
        return np.asarray(array, dtype=np.float32)

    def _bfloat16_tensor(self, name: str) -> np.ndarray:
        """Tensor ``name`` read from the file's own layout (8-byte header size, JSON header, data) as float32."""
        with open(self.path, "rb") as handle:
            header_size = int.from_bytes(handle.read(8), "little")
            info = json.loads(handle.read(header_size))[name]
            if info["dtype"] != "BF16":
                raise UsageError(f"{self.path}: tensor {name!r} has dtype {info['dtype']}, which the zoo cannot read")
            start, end = info["data_offsets"]
            handle.seek(8 + header_size + start)
            halves = np.frombuffer(handle.read(end - start), dtype="<u2")
        return (halves.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])


def read_wordpiece_vocabulary(directory: str | Path, vocabulary_size: int | None = None) -> list[str]:
    """The checkpoint's WordPiece tokens in id order, from ``vocab.txt`` or ``tokenizer.json`` (transformers 5
    saves only the latter), checked against the model and the tokenizer.

    With both files, they must list the same tokens. With ``vocabulary_size`` (``config.json``'s ``vocab_size``),
    a vocabulary with more tokens than the model has embeddings is refused. The zoo's in-graph tokenizer lower-cases
    and strips accents as BERT uncased does, so a cased checkpoint (``do_lower_case: false`` in
    ``tokenizer_config.json``, ``lowercase: false`` in ``tokenizer.json``'s normalizer) is refused too.
    """
    directory = checkpoint_directory(directory)
    vocab_file, tokenizer_file = directory / VOCABULARY, directory / TOKENIZER
    if not vocab_file.is_file() and not tokenizer_file.is_file():
        raise UsageError(f"{vocab_file}: missing, and no {TOKENIZER} either (the checkpoint's WordPiece vocabulary)")
    tokens = vocab_file.read_text(encoding="utf-8").splitlines() if vocab_file.is_file() else None
    if tokenizer_file.is_file():
        from_json = tokenizer_json_vocabulary(tokenizer_file)
        if tokens is not None and tokens != from_json:
            differ = next((i for i, pair in enumerate(zip(tokens, from_json)) if pair[0] != pair[1]),
                          min(len(tokens), len(from_json)))
            raise UsageError(f"{vocab_file} and {TOKENIZER} list different vocabularies ({len(tokens)} and "
                             f"{len(from_json)} tokens; first difference at id {differ})")
        tokens = from_json
    source = vocab_file if vocab_file.is_file() else tokenizer_file
    if vocabulary_size is not None and len(tokens) > vocabulary_size:
        raise UsageError(f"{source}: {len(tokens)} tokens, more than {CONFIG}'s vocab_size {vocabulary_size}")
    settings = directory / TOKENIZER_CONFIG
    if settings.is_file() and read_json_object(settings).get("do_lower_case", True) is False:
        raise UsageError(f"{settings}: do_lower_case is false; the zoo's tokenizer handles uncased checkpoints only")
    return tokens


def tokenizer_json_vocabulary(path: Path) -> list[str]:
    """The tokens of a ``tokenizers`` WordPiece ``tokenizer.json`` in id order (ids 0 … N-1, each once)."""
    tokenizer = read_json_object(path)
    model = tokenizer.get("model")
    if not isinstance(model, dict) or model.get("type") != "WordPiece" or not isinstance(model.get("vocab"), dict):
        found = model.get("type") if isinstance(model, dict) else None
        raise UsageError(f"{path}: model type is {found!r}, expected a 'WordPiece' model with a vocab")
    vocab = model["vocab"]
    ids = list(vocab.values())
    if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(ids))):
        raise UsageError(f"{path}: the vocab's ids are not 0 … {len(vocab) - 1}, each once")
    normalizer = tokenizer.get("normalizer")
    if isinstance(normalizer, dict) and normalizer.get("lowercase", True) is False:
        raise UsageError(f"{path}: the normalizer does not lower-case; the zoo's tokenizer handles uncased "
                         "checkpoints only")
    tokens = [""] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    return tokens
