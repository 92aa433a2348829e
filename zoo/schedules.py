"""The learning-rate schedule every recipe trains with: an optional linear warmup, then cosine decay to 0.

>>> schedule = cosine_schedule(1e-3, steps=100, warmup_steps=10)
>>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 55, 100)]
[0.0, 0.0005, 0.001, 0.0005, 0.0]
>>> [round(float(cosine_schedule(1e-3, steps=100)(step)), 6) for step in (0, 50, 100)]
[0.001, 0.0005, 0.0]
"""

from __future__ import annotations

import keras


def cosine_schedule(peak_learning_rate: float, steps: int,
                    warmup_steps: int = 0) -> keras.optimizers.schedules.CosineDecay:
    """``peak_learning_rate`` (reached after rising linearly from 0 over ``warmup_steps``), cosine-decayed to 0 by
    step ``steps``. Post-layer-norm encoders (BERT, ELECTRA) trained from scratch with Adam need the warmup
    (docs/pretraining.md)."""
    warmup_steps = min(warmup_steps, steps)
    if warmup_steps <= 0:
        return keras.optimizers.schedules.CosineDecay(peak_learning_rate, max(steps, 1))
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(steps - warmup_steps, 1), warmup_target=peak_learning_rate, warmup_steps=warmup_steps
    )
