"""Export: a validated SavedModel version, published atomically, plus ``models.config``.

Example:

>>> result = export(servable, model_name="half_plus_two", export_root="saved_models",
...                 card={"config": {}, "metrics": {}, "data": {}})     # doctest: +SKIP
>>> result.path                                                          # doctest: +SKIP
PosixPath('saved_models/half_plus_two/1')
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

from zoo.config import FLOAT32
from zoo.errors import ExportError
from zoo.export.gate import GateReport, run_gate
from zoo.export.model_card import write_model_card
from zoo.export.models_config import CONFIG_FILE, read_models_config, write_models_config
from zoo.export.saved_model import describe_signatures, save_servable
from zoo.export.signatures import Endpoint, Servable
from zoo.export.versions import publish
from zoo.export.warmup import write_warmup

__all__ = ["Endpoint", "ExportResult", "Servable", "export"]


@dataclasses.dataclass
class ExportResult:
    path: Path
    version: int
    gate: GateReport
    models_config: Path
    precision: dict[str, Any]


def export(
    servable: Servable,
    *,
    model_name: str,
    export_root: str | Path,
    card: Mapping[str, Any],
    version: int | None = None,
) -> ExportResult:
    """Save, write warmup and model card, run the gate, then publish ``export_root/model_name/N``.

    ``card`` holds ``config``, ``metrics``, ``data`` and optionally ``precision`` (what the export computes in and
    how it compared with float32: :mod:`zoo.export.precision`; float32 when absent) for ``assets.extra/zoo.json``.
    Nothing becomes visible to TF Serving unless every step, the validation gate included, succeeds; a NaN or
    infinite metric (a run that diverged) stops the export before anything is written.
    """
    non_finite = {k: v for k, v in card.get("metrics", {}).items() if not math.isfinite(float(v))}
    if non_finite:
        shown = ", ".join(f"{k}={v}" for k, v in non_finite.items())
        raise ExportError(f"not exporting {model_name}: non-finite metrics ({shown}); the training diverged")
    export_root = Path(export_root)
    precision = dict(card.get("precision", {"dtype": FLOAT32}))
    read_models_config(export_root / CONFIG_FILE)  # a models.config that would not parse fails before any work
    reports: list[GateReport] = []

    def write(tmp: Path, number: int) -> None:
        functions = save_servable(servable, tmp)
        write_warmup(tmp, model_name, servable.endpoints)
        write_model_card(
            tmp,
            recipe=model_name,
            version=number,
            config=card.get("config", {}),
            metrics=card.get("metrics", {}),
            data=card.get("data", {}),
            precision=precision,
            signatures=describe_signatures(servable),
        )
        reports.append(run_gate(tmp, functions, servable.gate_tolerance))

    path = publish(export_root / model_name, version, write)
    return ExportResult(path=path, version=int(path.name), gate=reports[0],
                        models_config=write_models_config(export_root), precision=precision)
