"""What every benchmark shares: the machine it ran on, running a recipe, writing results."""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import zoo
from zoo.export.model_card import library_versions
from zoo.recipe import RunResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment() -> dict[str, Any]:
    """Date, machine and library versions, recorded with every result."""
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()},
        "libraries": library_versions(),
    }


def run_recipe(name: str, export_dir: str | Path | None = None, **overrides: Any) -> RunResult:
    """Run a registered recipe with its default config (plus ``overrides``), exporting to a scratch dir."""
    cls = zoo.get_recipe(name)
    config = zoo.config.apply_overrides(cls.Config(), overrides)
    scratch = Path(export_dir or tempfile.mkdtemp(prefix=f"zoo-bench-{name}-"))
    return cls(config, run_dir=scratch / "run").run(export_dir=scratch / "exports")


def bar_verdicts(result: RunResult) -> dict[str, bool | None]:
    return {str(bar): bar.met(result.metrics) for bar in result.bars}


def recipe_result(result: RunResult) -> dict[str, Any]:
    """The JSON-able part of a RunResult that every bench records."""
    return {
        "config": result.config,
        "metrics": result.metrics,
        "bars": bar_verdicts(result),
        "train_examples": result.train_examples,
        "wall_seconds": round(result.wall_seconds, 1),
    }


def write_result(name: str, payload: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``results_dir/NAME.json`` with the environment added."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, **environment(), **payload}, indent=2) + "\n")
    return path
