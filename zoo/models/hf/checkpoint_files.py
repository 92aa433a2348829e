"""Reading a local Hugging Face checkpoint directory: ``config.json``, ``model.safetensors`` and ``vocab.txt``.

Everything a user points the zoo at is checked here, before any model is built, and every problem is a
:class:`zoo.errors.UsageError` of one line naming the file: a missing directory or file, a ``config.json`` of
another ``model_type``, a directory holding only ``pytorch_model.bin`` (the zoo reads weights with
``safetensors``, never with torch), a tensor that is missing or whose shape disagrees with ``config.json``.

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
>>> CheckpointWeights(directory)                                               # doctest: +ELLIPSIS
Traceback (most recent call last):
zoo.errors.UsageError: .../model.safetensors: missing

With a real checkpoint (e.g. ``google/electra-small-discriminator``):

>>> config = read_config(directory, "electra")                                 # doctest: +SKIP
>>> weights = CheckpointWeights(directory, prefix="electra.")                  # doctest: +SKIP
>>> weights.get("embeddings.word_embeddings.weight", (config["vocab_size"], config["embedding_size"])).shape  # doctest: +SKIP
(30522, 128)
"""

from __future__ import annotations

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


def read_config(directory: str | Path, model_type: str) -> dict[str, Any]:
    """``config.json`` of ``directory``, which must declare ``model_type``."""
    path = checkpoint_directory(directory) / CONFIG
    if not path.is_file():
        raise UsageError(f"{path}: missing (a Hugging Face checkpoint directory has config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("model_type") != model_type:
        found = config.get("model_type") if isinstance(config, dict) else None
        raise UsageError(f"{path}: model_type is {found!r}, expected {model_type!r}")
    return config


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
    """The checkpoint's WordPiece tokens (``vocab.txt``) in id order, checked against the model and the tokenizer.

    With ``vocabulary_size`` (``config.json``'s ``vocab_size``), a vocabulary with more tokens than the model
    has embeddings is refused. The zoo's in-graph tokenizer lower-cases and strips accents as BERT uncased does,
    so a ``tokenizer_config.json`` with ``do_lower_case: false`` (a cased checkpoint) is refused too.
    """
    directory = checkpoint_directory(directory)
    vocab_file = directory / VOCABULARY
    if not vocab_file.is_file():
        raise UsageError(f"{vocab_file}: missing (the checkpoint's WordPiece vocabulary, shipped beside {TOKENIZER})")
    tokens = vocab_file.read_text(encoding="utf-8").splitlines()
    if vocabulary_size is not None and len(tokens) > vocabulary_size:
        raise UsageError(f"{vocab_file}: {len(tokens)} tokens, more than {CONFIG}'s vocab_size {vocabulary_size}")
    settings = directory / TOKENIZER_CONFIG
    if settings.is_file() and json.loads(settings.read_text(encoding="utf-8")).get("do_lower_case", True) is False:
        raise UsageError(f"{settings}: do_lower_case is false; the zoo's tokenizer handles uncased checkpoints only")
    return tokens
