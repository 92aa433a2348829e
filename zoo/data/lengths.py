"""Sequence lengths from the data: long enough for nearly every training text, no longer.

A recipe's ``sequence_length`` (or ``max_input_length``…) defaults to 0, "from the data": the length that holds
95% of a sample of the training texts whole (their first :data:`SAMPLE` in the split's hash order, a random
sample), within a floor and the recipe's cap. Short texts (tickets, tweets, reviews) then train at a short length,
long articles at the cap, instead of every data set at one data set's length.

Example:

>>> length_from_data([10, 12, 14, 200], cap=512)
173
>>> length_from_data([10, 12, 14, 200], cap=64), length_from_data([3, 4], cap=64)
(64, 8)
>>> length_from_data([30], cap=64, multiple=4)
32
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

SAMPLE = 2000
QUANTILE = 0.95
FLOOR = 8


def length_from_data(lengths: Sequence[int], cap: int, multiple: int = 1, floor: int = FLOOR,
                     quantile: float = QUANTILE) -> int:
    """The ``quantile`` of ``lengths`` rounded up to a ``multiple``, within ``[floor, cap]``."""
    wanted = math.ceil(float(np.quantile(np.asarray(lengths, dtype=np.float64), quantile))) if len(lengths) else cap
    bounded = min(cap, max(floor, wanted))
    return min(cap, math.ceil(bounded / multiple) * multiple) if multiple > 1 else bounded


def sample(texts: np.ndarray) -> list[str]:
    """The texts whose lengths stand for the data's: the first :data:`SAMPLE` (the split's random hash order)."""
    return [str(text) for text in texts[:SAMPLE]]
