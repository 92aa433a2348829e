"""Shared by the Hugging Face BERT/ELECTRA import tests: the tiny committed checkpoints and their torch outputs.

``tests/fixtures/hf_encoders/KIND/`` are random-init checkpoints written by ``transformers`` and
``tests/fixtures/hf_encoders.npz`` what PyTorch computed on them (``tests/fixtures/make_hf_encoders.py``), so
these tests need no torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).parent / "fixtures"
CHECKPOINTS = FIXTURES / "hf_encoders"
TOLERANCE = 1e-4


def checkpoint(kind: str) -> Path:
    """The committed tiny checkpoint directory of ``kind`` (electra_discriminator, electra_generator, bert_mlm)."""
    return CHECKPOINTS / kind


def reference(kind: str) -> dict[str, np.ndarray]:
    """PyTorch's outputs for ``kind``: texts, token_ids, padding_mask and the probabilities (see the script)."""
    with np.load(FIXTURES / "hf_encoders.npz") as data:
        return {name.split("/", 1)[1]: data[name] for name in data.files if name.startswith(f"{kind}/")}


def backbone_inputs(ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"token_ids": ref["token_ids"], "segment_ids": np.zeros_like(ref["token_ids"]),
            "padding_mask": ref["padding_mask"]}


def every_position(ref: dict[str, np.ndarray]) -> np.ndarray:
    """mask_positions [n, length] covering every position, for a masked-LM head."""
    n, length = ref["token_ids"].shape
    return np.tile(np.arange(length, dtype=np.int32), (n, 1))


def max_difference(ours, theirs, padding_mask) -> float:
    """Largest |ours - theirs| over real (non-padding) tokens."""
    return float(np.abs(np.asarray(ours) - theirs)[padding_mask.astype(bool)].max())


def max_log_difference(ours, theirs, padding_mask) -> float:
    """Largest |log ours - log theirs| over real tokens: a relative error, telling even tiny probabilities apart."""
    return max_difference(np.log(np.asarray(ours, np.float64)), np.log(np.asarray(theirs, np.float64)), padding_mask)


LAYOUTS = ("hub", "transformers-5")  # vocab.txt beside tokenizer.json, as the hub ships; tokenizer.json only


def saved_as(layout: str, kind: str, tmp_path: Path) -> Path:
    """The checkpoint of ``kind`` as the hub ships it, or as transformers 5's ``save_pretrained`` writes its tokenizer:
    ``tokenizer.json`` and ``tokenizer_config.json``, no ``vocab.txt``."""
    if layout == "hub":
        return checkpoint(kind)
    from transformers import BertTokenizerFast, ElectraTokenizerFast

    directory = tmp_path / f"{kind}_transformers_5"
    directory.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(checkpoint(kind) / name, directory / name)
    tokenizer_class = ElectraTokenizerFast if kind.startswith("electra") else BertTokenizerFast
    tokenizer_class.from_pretrained(str(checkpoint(kind))).save_pretrained(str(directory))
    assert not (directory / "vocab.txt").exists() and (directory / "tokenizer.json").is_file()
    return directory


def edited_copy(kind: str, tmp_path: Path, **config_changes) -> Path:
    """A copy of a checkpoint directory with ``config.json`` fields changed (None deletes a field)."""
    directory = tmp_path / kind
    shutil.copytree(checkpoint(kind), directory)
    config = json.loads((directory / "config.json").read_text())
    for key, value in config_changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def decoded(strings: np.ndarray) -> list[list[str]]:
    return [[s.decode("utf-8") for s in row] for row in np.asarray(strings).tolist()]
