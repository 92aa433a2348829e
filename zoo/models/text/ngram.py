"""A smoothed n-gram language model over token ids: the baseline a neural language model must beat.

Interpolated absolute discounting (Ney, Essen & Kneser 1994): every seen n-gram gives up ``discount`` of its count,
and what the context gave up goes to the next-lower order, down to a uniform distribution over the vocabulary:

    P(w | h) = max(c(h, w) - D, 0) / c(h) + D * N(h) / c(h) * P(w | h minus its oldest token)

where c(h) counts the context and N(h) the distinct tokens seen after it; a context never seen backs off whole.
Counting and lookups are sorted int64 keys and ``numpy.searchsorted``, so a million training tokens take seconds.

Example:

>>> model = NGramModel(order=2, vocabulary_size=3).fit(np.array([0, 1, 0, 1, 0, 2]))
>>> probabilities = np.exp(model.log_probs(np.array([[0], [0], [0]]), np.array([0, 1, 2])))
>>> probabilities.round(3).tolist(), round(float(probabilities.sum()), 6)
([0.25, 0.583, 0.167], 1.0)
"""

from __future__ import annotations

import numpy as np


class NGramModel:
    """An order-``order`` model over ids in [0, ``vocabulary_size``); :meth:`fit` on a token stream, then
    :meth:`log_probs`."""

    def __init__(self, order: int, vocabulary_size: int, discount: float = 0.75) -> None:
        if order < 1 or vocabulary_size < 1 or not 0 < discount < 1:
            raise ValueError(f"order {order} and vocabulary_size {vocabulary_size} must be at least 1, discount "
                             f"{discount} in (0, 1)")
        self.order, self.vocabulary_size, self.discount = order, vocabulary_size, discount
        self._counts: list[tuple[np.ndarray, np.ndarray]] = []  # per order n: sorted n-gram keys, their counts
        self._contexts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per n: context keys, c(h), N(h)

    def fit(self, stream: np.ndarray) -> "NGramModel":
        """Count every n-gram of order 1…``order`` in ``stream`` (int [tokens])."""
        stream = np.asarray(stream, np.int64)
        for n in range(1, self.order + 1):
            grams = np.stack([stream[i:len(stream) - n + 1 + i] for i in range(n)], axis=1)
            keys, counts = np.unique(self._keys(grams), return_counts=True)
            self._counts.append((keys, counts))
            contexts, first = np.unique(keys // self.vocabulary_size, return_index=True)
            totals = np.add.reduceat(counts, first) if len(keys) else counts
            followers = np.diff(np.append(first, len(keys)))
            self._contexts.append((contexts, totals, followers))
        return self

    def log_probs(self, contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Natural-log P(token | context) per row: ``contexts`` int [rows, order - 1] (oldest first; -1 where the
        history is shorter, which uses the lower orders only), ``tokens`` int [rows]."""
        contexts, tokens = np.asarray(contexts, np.int64).reshape(len(tokens), -1), np.asarray(tokens, np.int64)
        probability = np.full(len(tokens), 1.0 / self.vocabulary_size)
        for n in range(1, self.order + 1):
            history = contexts[:, contexts.shape[1] - (n - 1):] if n > 1 else contexts[:, :0]
            known = (history >= 0).all(axis=1)
            context_keys = self._keys(np.where(history >= 0, history, 0)) if n > 1 else np.zeros(len(tokens), np.int64)
            total, followers = self._context_stats(n, context_keys)
            count = self._lookup(*self._counts[n - 1], context_keys * self.vocabulary_size + tokens)
            seen = known & (total > 0)
            safe_total = np.maximum(total, 1)
            interpolated = (np.maximum(count - self.discount, 0) + self.discount * followers * probability) / safe_total
            probability = np.where(seen, interpolated, probability)
        return np.log(probability)

    def _keys(self, grams: np.ndarray) -> np.ndarray:
        """Each row of ids as one int64 (base ``vocabulary_size``)."""
        keys = np.zeros(len(grams), np.int64)
        for column in range(grams.shape[1]):
            keys = keys * self.vocabulary_size + grams[:, column]
        return keys

    def _context_stats(self, n: int, context_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        contexts, totals, followers = self._contexts[n - 1]
        return self._lookup(contexts, totals, context_keys), self._lookup(contexts, followers, context_keys)

    @staticmethod
    def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """``values`` of ``wanted`` keys in sorted ``keys``; 0 for keys not there."""
        if not len(keys):
            return np.zeros(len(wanted), np.int64)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return np.where(keys[at] == wanted, values[at], 0)


def perplexity(log_probs: np.ndarray) -> float:
    """exp of the mean negative log-probability.

    >>> round(perplexity(np.log([0.5, 0.25])), 6)
    2.828427
    """
    return float(np.exp(-np.mean(log_probs)))
