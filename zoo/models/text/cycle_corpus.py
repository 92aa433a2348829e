"""A synthetic corpus where context decides every token: documents that cycle through a fixed word list.

Each document starts at a random word of ``words`` and continues in order, wrapping around, so every token is
determined by its neighbours: a masked language model that reads context predicts a masked word exactly
(chance is ``1 / len(words)``), and a replaced word always breaks the cycle. :func:`cycle_vocabulary` is the
WordPiece vocabulary of such a corpus (the special tokens, then the words), which keeps models on it small.

Example:

>>> cycle_corpus(["red", "green", "blue"], documents=2, length=4, seed=0)
['blue red green blue', 'green blue red green']
>>> cycle_vocabulary(["red", "green", "blue"])
['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'red', 'green', 'blue']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zoo.models.text.wordpiece import SPECIAL_TOKENS

WORDS = ("apple", "river", "stone", "cloud", "tiger", "music", "paper", "window", "garden", "silver", "orange",
         "bridge", "candle", "forest", "summer", "pocket", "rocket", "island")


def cycle_corpus(words: Sequence[str] = WORDS, documents: int = 2000, length: int = 60, seed: int = 0) -> list[str]:
    """``documents`` texts of ``length`` words, each cycling through ``words`` from a random start."""
    starts = np.random.default_rng(seed).integers(0, len(words), documents)
    return [" ".join(words[(int(start) + i) % len(words)] for i in range(length)) for start in starts]


def cycle_vocabulary(words: Sequence[str] = WORDS) -> list[str]:
    """The special tokens, then ``words``: a WordPiece vocabulary in which every word is one token."""
    return [*SPECIAL_TOKENS, *words]
