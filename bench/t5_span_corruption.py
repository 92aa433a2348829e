"""t5 with span-corruption pretraining: does T5's own pretraining objective pay off at this scale?

Each seed runs the t5 recipe with ``SPAN_CORRUPTION`` (ten passes of span corruption over the training sources
before fine-tuning) and is compared with the default run of the same seed that ``python -m bench t5`` recorded in
``bench/results/t5.json`` (run that first). Kept per seed: exact match, and the pretraining's loss and token
accuracy after every pass (did it learn?). About 40 minutes a seed on 2 cores.

    python -m bench t5_span_corruption [--seeds N]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from bench.common import BenchRecord, run_recipe, seed_stats

SPAN_CORRUPTION = {"pretrain_epochs": 10}  # about 2,290 steps (229 a pass): 2 passes barely learned
DEFAULT_SEEDS = 3


def span_corruption_run(seed: int) -> dict[str, Any]:
    """One seed with ``SPAN_CORRUPTION``: exact match, and the pretraining's loss and token accuracy per pass."""
    result = run_recipe("t5", seed=seed, **SPAN_CORRUPTION)
    history = result.trained.pretraining_history
    return {"seed": seed, "test_exact_match": result.metrics["test_exact_match"],
            "pretraining_per_pass": {k: [round(v, 4) for v in history[k]] for k in ("loss", "accuracy")},
            "wall_seconds": round(result.wall_seconds, 1)}


def record_runs(record: BenchRecord, runs: Sequence[dict[str, Any]], defaults: dict[int, float]) -> None:
    """``runs`` (of :func:`span_corruption_run`) beside the default runs' exact match of the same seeds."""
    with_pretraining = seed_stats([run["test_exact_match"] for run in runs])
    without = seed_stats([defaults[run["seed"]] for run in runs])
    record.add("overrides", SPAN_CORRUPTION)
    record.add("test_exact_match", with_pretraining)
    record.add("runs", list(runs))
    record.add("no_pretraining_same_seeds", without)
    record.add("mean_minus_no_pretraining_same_seeds", round(with_pretraining["mean"] - without["mean"], 4))


def default_runs(results_dir: Path) -> dict[int, float]:
    """Exact match of each seed's default run in ``results_dir/t5.json`` (empty when there is none)."""
    path = Path(results_dir) / "t5.json"
    return {run["seed"]: run["metrics"]["test_exact_match"]
            for run in json.loads(path.read_text())["runs"]} if path.is_file() else {}


def check(results_dir: Path, seeds: Sequence[int]) -> str | None:
    """Why the bench cannot run (before anything trains), or None."""
    defaults = default_runs(results_dir)
    missing = [seed for seed in seeds if seed not in defaults]
    if missing:
        return (f"{Path(results_dir) / 't5.json'} has default runs of seeds {sorted(defaults)}, not {missing}: "
                "run `python -m bench t5` first")
    return None


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    defaults = default_runs(record.path.parent)
    runs = []
    for seed in seeds:
        runs.append(span_corruption_run(seed))
        record_runs(record, runs, defaults)
