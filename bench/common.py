"""What every benchmark shares: the machine it ran on, running a recipe over seeds, writing results as they come.

Every benchmark module ``bench/<name>.py`` has one shape. It defines ``run(record, seeds)``, which adds each seed's
run and each further part to ``record`` (a :class:`BenchRecord`, the one way results are written) as soon as it
exists; its docstring's first line says what it measures (``python -m bench --list``). Optionally:
``DEFAULT_SEEDS`` (how many seeds ``python -m bench NAME`` runs without ``--seeds``: 3 for a recipe, 1 for
another bench), ``REQUIRES`` (modules of the ``bench`` extra it imports) and ``check(results_dir, seeds)`` (why it
cannot run, or None); both are checked before anything trains.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import zoo
from bench.timing import cpu_description
from zoo.export.model_card import library_versions
from zoo.bars import QualityBar
from zoo.recipe import RunResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"
EXPORT_SECONDS = 3600  # a bench's export running past this has failed


def environment() -> dict[str, Any]:
    """Date, machine (the CPU's model and instruction-set flags: :func:`bench.timing.cpu_description`) and library
    versions, recorded with every result."""
    cpu = cpu_description()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu["model"], "cpu_flags": cpu["flags"], "cores": os.cpu_count(),
                    "platform": platform.platform(),
                    # other work on the cores (1, 5, 15 minutes) when the record was started: wall times and
                    # speeds depend on it
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "libraries": library_versions(),
    }


def run_recipe(name: str, export_dir: str | Path | None = None, **overrides: Any) -> RunResult:
    """Run a registered recipe with its default config (plus ``overrides``), exporting to a scratch dir."""
    cls = zoo.get_recipe(name)
    config = zoo.config.apply_overrides(cls.Config(), overrides)
    scratch = Path(export_dir or tempfile.mkdtemp(prefix=f"zoo-bench-{name}-"))
    return cls(config, run_dir=scratch / "run").run(export_dir=scratch / "exports")


def export_with_cli(recipe: str, settings: dict[str, Any], folder: Path) -> Path:
    """``python -m zoo.run RECIPE --set KEY=VALUE ...`` (``settings``) in a process of its own, exporting into
    ``folder``; the version directory it exported. A failed run raises RuntimeError with the end of its stderr."""
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    where = ["--export-dir", str(folder / "exports"), "--run-dir", str(folder / "run")]
    done = subprocess.run([sys.executable, "-m", "zoo.run", recipe, *sets, *where], capture_output=True, text=True,
                          timeout=EXPORT_SECONDS, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{recipe} export ({' '.join(sets)}): exit {done.returncode}: "
                           f"{done.stderr.strip()[-2000:]}")
    version, = (folder / "exports" / recipe).glob("*/saved_model.pb")
    return version.parent


def missing_modules(modules: Iterable[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here (checked without importing them).

    >>> missing_modules(["json", "no_such_module_here"])
    ['no_such_module_here']
    """
    def importable(name: str) -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except ImportError:  # a finder that knows the module is absent may say so by raising
            return False

    return [name for name in modules if not importable(name)]


def seed_stats(values: Sequence[float]) -> dict[str, Any]:
    """One metric over seeds: mean, sample standard deviation (0 for one seed), min, max, n and the values.

    >>> seed_stats([0.9, 1.0, 0.95])
    {'mean': 0.95, 'sd': 0.05, 'min': 0.9, 'max': 1.0, 'n': 3, 'values': [0.9, 1.0, 0.95]}
    """
    values = [float(v) for v in values]
    return {
        "mean": round(statistics.fmean(values), 6),
        "sd": round(statistics.stdev(values), 6) if len(values) > 1 else 0.0,
        "min": min(values), "max": max(values), "n": len(values), "values": values,
    }


class BenchRecord:
    """One benchmark's ``RESULTS/NAME.json``, rewritten whenever a part is added, so a part that fails later
    loses nothing measured before it.

    Each seed's run goes in with :meth:`add_run`; ``metrics`` then holds every metric's :func:`seed_stats` over
    the runs so far, and ``bars`` each bar judged on the mean. Anything else goes in with :meth:`add`.

    >>> import tempfile, zoo
    >>> record = BenchRecord("demo", Path(tempfile.mkdtemp()), bars=(zoo.QualityBar("test_accuracy", ">=", 0.9),))
    >>> for seed, accuracy in enumerate([0.95, 0.87]):
    ...     record.add_run(seed, {"metrics": {"test_accuracy": accuracy}})
    >>> saved = json.loads(record.path.read_text())
    >>> saved["metrics"]["test_accuracy"]["mean"], saved["bars"], saved["seeds"]
    (0.91, {'test_accuracy >= 0.9': True}, [0, 1])
    """

    def __init__(self, name: str, results_dir: Path = RESULTS_DIR, bars: Sequence[QualityBar] = ()) -> None:
        self.name = name
        self.path = Path(results_dir) / f"{name}.json"
        self.bars = tuple(bars)
        self.payload: dict[str, Any] = {"benchmark": name, **environment()}
        self.written = False  # whether this run has written the file (measured something)

    def add_run(self, seed: int, run: dict[str, Any]) -> None:
        """One seed's figures (``metrics`` and anything else about that run); the summary is recomputed."""
        runs = [*self.payload.get("runs", []), {"seed": seed, **run}]
        names = [name for name in runs[0]["metrics"] if all(name in r["metrics"] for r in runs)]
        metrics = {name: seed_stats([r["metrics"][name] for r in runs]) for name in names}
        means = {name: stats["mean"] for name, stats in metrics.items()}
        self.payload.update(seeds=[r["seed"] for r in runs], metrics=metrics,
                            bars={str(bar): bar.met(means) for bar in self.bars}, runs=runs)
        self.write()

    def add(self, key: str, value: Any) -> None:
        self.payload[key] = value
        self.write()

    def describe(self, key: str, value: Any) -> None:
        """What is not a measurement (the config): kept, and written with the next measurement, so that a bench
        stopped before measuring anything leaves the previous result whole."""
        self.payload[key] = value

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.payload, indent=2) + "\n")
        self.written = True
        return self.path


def run_entry(result: RunResult) -> dict[str, Any]:
    """What a :class:`BenchRecord` keeps of one seed's run."""
    return {"metrics": result.metrics, "train_examples": result.train_examples,
            "wall_seconds": round(result.wall_seconds, 1)}


def run_seeds(record: BenchRecord, seeds: Sequence[int], **overrides: Any) -> RunResult:
    """Run the recipe ``record.name`` (default config plus ``overrides``) once per seed, recording each run as it
    ends; returns the first seed's result, for the parts a bench measures on one trained model."""
    first = None
    for seed in seeds:
        result = run_recipe(record.name, seed=seed, **overrides)
        if first is None:
            first = result
            record.describe("config", {k: v for k, v in result.config.items() if k != "seed"})
        record.add_run(seed, run_entry(result))
    return first
