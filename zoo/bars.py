"""Quality bars: what a recipe promises to reach, as ``metric op value`` (a light module: no TensorFlow)."""

from __future__ import annotations

import dataclasses

_COMPARE = {">=": float.__ge__, "<=": float.__le__, ">": float.__gt__, "<": float.__lt__}


@dataclasses.dataclass(frozen=True)
class QualityBar:
    """A stated quality bar: ``metric op value``, op one of ``>= <= > <``. ``value`` is a number, the name of another
    metric of the same run (a baseline the recipe measures itself), or the name of a reference its bench measures
    beside the recipe (the same metric of another model, as means).

    >>> QualityBar("test_accuracy", ">=", 0.994).met({"test_accuracy": 0.995})
    True
    >>> beat_mlm = QualityBar("test_accuracy", ">", "mlm_bert")
    >>> str(beat_mlm), beat_mlm.met({"test_accuracy": 0.83}, {"mlm_bert": {"test_accuracy": 0.93}})
    ('test_accuracy > mlm_bert', False)
    >>> QualityBar("test_perplexity", "<", "ngram_perplexity").met({"test_perplexity": 90.0, "ngram_perplexity": 120.0})
    True
    """

    metric: str
    op: str
    value: float | str

    def __post_init__(self) -> None:
        if self.op not in _COMPARE:
            raise ValueError(f"quality bar op must be one of {', '.join(_COMPARE)}, got {self.op!r}")

    def met(self, metrics: dict[str, float], references: dict[str, dict[str, float]] | None = None) -> bool | None:
        """True/False, or None when the metric (or the reference's) was not measured."""
        target = self.value
        if isinstance(target, str):
            target = metrics.get(target, (references or {}).get(target, {}).get(self.metric))
        if self.metric not in metrics or target is None:
            return None
        return _COMPARE[self.op](float(metrics[self.metric]), float(target))

    def __str__(self) -> str:
        value = self.value if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.metric} {self.op} {value}"
