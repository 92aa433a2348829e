"""T5's span-corruption pretraining objective (Raffel et al. 2020, section 3.1.4), in NumPy.

About ``noise_density`` of a sequence's tokens, in spans of mean length ``mean_span_length``, are removed
from the input; each removed span is replaced by one sentinel (``<extra_id_0>``, ``<extra_id_1>``, … in
order), and the target lists the sentinels each followed by the span it stands for. Both end with ``eos``.
The spans are drawn as T5 draws them (``random_spans_noise_mask``): the noise and non-noise token counts are
each split into the same number of random positive-length segments, interleaved starting with non-noise.

Example (sentinels 99, 98, … as in a 100-id vocabulary; eos = 1):

>>> rng = np.random.default_rng(0)
>>> tokens = np.arange(10, 30)
>>> inputs, targets = span_corrupt(tokens, rng, sentinel_ids=[99, 98, 97], eos_id=1)
>>> inputs.tolist(), targets.tolist()
([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 99, 1], [99, 27, 28, 29, 1])
>>> reconstruct(inputs, targets, sentinel_ids=[99, 98, 97], eos_id=1).tolist() == tokens.tolist()
True
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

NOISE_DENSITY = 0.15
MEAN_SPAN_LENGTH = 3.0


def noise_mask(
    length: int,
    rng: np.random.Generator,
    noise_density: float = NOISE_DENSITY,
    mean_span_length: float = MEAN_SPAN_LENGTH,
) -> np.ndarray:
    """Boolean [length]: True on the tokens to corrupt. The first token is never noise."""
    if length < 2:
        raise ValueError(f"span corruption needs at least 2 tokens, got {length}")
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_span_length)), 1)
    num_spans = min(num_spans, length - num_noise)  # every noise span needs a non-noise span before it
    noise_lengths = _random_segmentation(num_noise, num_spans, rng)
    kept_lengths = _random_segmentation(length - num_noise, num_spans, rng)
    interleaved = np.stack([kept_lengths, noise_lengths], axis=1).reshape(-1)
    return np.repeat(np.tile([False, True], num_spans), interleaved)


def _random_segmentation(num_items: int, num_segments: int, rng: np.random.Generator) -> np.ndarray:
    """``num_segments`` positive lengths summing to ``num_items``, uniformly over such partitions."""
    cuts = np.sort(rng.choice(np.arange(1, num_items), num_segments - 1, replace=False))
    return np.diff(np.concatenate([[0], cuts, [num_items]]))


def span_corrupt(
    tokens: np.ndarray,
    rng: np.random.Generator,
    sentinel_ids: Sequence[int],
    eos_id: int,
    noise_density: float = NOISE_DENSITY,
    mean_span_length: float = MEAN_SPAN_LENGTH,
) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` int32 for one sequence of token ids (without eos); see the module docstring."""
    tokens = np.asarray(tokens)
    mask = noise_mask(len(tokens), rng, noise_density, mean_span_length)
    span_starts = mask & ~np.concatenate([[False], mask[:-1]])
    num_spans = int(span_starts.sum())
    if num_spans > len(sentinel_ids):
        raise ValueError(f"{num_spans} noise spans but only {len(sentinel_ids)} sentinels; use shorter sequences")
    sentinels = np.asarray(sentinel_ids[:num_spans])
    inputs = tokens[~mask | span_starts].copy()
    inputs[span_starts[~mask | span_starts]] = sentinels  # each span's first token becomes its sentinel
    targets = np.insert(tokens[mask], np.flatnonzero(span_starts[mask]), sentinels)  # sentinel before each span
    return (np.append(inputs, eos_id).astype(np.int32), np.append(targets, eos_id).astype(np.int32))


def reconstruct(inputs: np.ndarray, targets: np.ndarray, sentinel_ids: Sequence[int], eos_id: int) -> np.ndarray:
    """The original tokens: each sentinel in ``inputs`` replaced by its span from ``targets`` (for checking)."""
    spans: dict[int, list[int]] = {}
    current = None
    for token in targets.tolist():
        if token == eos_id:
            break
        if token in sentinel_ids:
            current = spans.setdefault(token, [])
        elif current is not None:
            current.append(token)
    out: list[int] = []
    for token in inputs.tolist():
        if token == eos_id:
            break
        out.extend(spans[token] if token in spans else [token])
    return np.asarray(out, dtype=np.int32)
