"""ROUGE-1, ROUGE-2 and ROUGE-L F-measures of generated texts against references, as Hugging Face's summarisation
example computes them: Google's ``rouge-score`` package with the Porter stemmer on, averaged over examples
(fractions in [0, 1], where that example prints them times 100).

``rouge-score`` keeps only ASCII letters and digits when it tokenises, so text in other scripts scores 0 (read
exact match there).

Example:

>>> scores = rouge(["the cats were running"], ["the cat runs"])
>>> {name: round(value, 3) for name, value in scores.items()}
{'rouge1': 0.857, 'rouge2': 0.4, 'rougeL': 0.857}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

KINDS = ("rouge1", "rouge2", "rougeL")


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F-measure of each kind over the pairs."""
    from rouge_score import rouge_scorer

    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    scorer = rouge_scorer.RougeScorer(list(KINDS), use_stemmer=True)
    scores = [scorer.score(reference, prediction) for prediction, reference in zip(predictions, references)]
    return {kind: float(np.mean([s[kind].fmeasure for s in scores])) if scores else 0.0 for kind in KINDS}
