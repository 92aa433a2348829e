"""scale_out: cnn_mnist and lstm trained by one worker and by two, same global batch and seed: test accuracy within
1 point of one worker's.

Each run is a process of its own, started as a user starts it: ``python -m zoo.run RECIPE --set seed=S`` and
``python -m zoo.launch --workers 2 RECIPE --set seed=S``, the recipe's default config otherwise. Under two workers
``batch_size`` stays the global batch (MultiWorkerMirroredStrategy splits it), so both runs take the same steps.
Per recipe: each seed's two accuracies and their difference (two workers minus one), and over the seeds the
mean ± sd of each; the goal is a mean difference within one point.

    python -m bench scale_out [--seeds N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from bench.common import BenchRecord, seed_stats

RECIPES = ("cnn_mnist", "lstm")
DEFAULT_SEEDS = 3
GOAL = 0.01  # test accuracy, two workers against one
SECONDS = 7200  # a run stopped past this has failed


def trained_accuracy(name: str, seed: int, workers: int, folder: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Train and export ``name`` with ``workers`` processes in ``folder``; its test accuracy and wall time."""
    sets = [arg for key, value in {"seed": seed, **overrides}.items() for arg in ("--set", f"{key}={value}")]
    where = ["--export-dir", str(folder / "exports"), "--run-dir", str(folder / "run")]
    launcher = ["-m", "zoo.run"] if workers == 1 else ["-m", "zoo.launch", "--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *launcher, name, *sets, *where], capture_output=True, text=True,
                          timeout=SECONDS, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{name} with {workers} worker(s), seed {seed}: exit {done.returncode}: "
                           f"{done.stderr.strip().splitlines()[-1:] or done.stdout[-300:]}")
    card, = (folder / "exports" / name).glob("*/assets.extra/zoo.json")
    return {"test_accuracy": json.loads(card.read_text())["metrics"]["test_accuracy"],
            "wall_seconds": round(time.perf_counter() - started, 1)}


def compared(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Seed statistics of one worker's and two workers' accuracies and of their difference, and the verdict."""
    one = [r["one_worker"]["test_accuracy"] for r in runs]
    two = [r["two_workers"]["test_accuracy"] for r in runs]
    difference = seed_stats([b - a for a, b in zip(one, two)])
    return {"one_worker": seed_stats(one), "two_workers": seed_stats(two), "difference": difference,
            "within_goal": abs(difference["mean"]) <= GOAL, "goal": GOAL, "runs": runs}


def run(record: BenchRecord, seeds: Sequence[int], recipes: Sequence[str] = RECIPES,
        overrides: dict[str, Any] | None = None) -> None:
    """Each recipe and seed trained by one worker, then by two; recorded after each seed. ``overrides`` (config
    keys for both runs) is for tests."""
    if overrides:
        record.describe("overrides", overrides)
    for name in recipes:
        runs = []
        for seed in seeds:
            with tempfile.TemporaryDirectory(prefix=f"zoo-scale-out-{name}-") as scratch:
                one = trained_accuracy(name, seed, 1, Path(scratch) / "one", overrides or {})
                two = trained_accuracy(name, seed, 2, Path(scratch) / "two", overrides or {})
            runs.append({"seed": seed, "one_worker": one, "two_workers": two})
            record.add(name, compared(runs))
