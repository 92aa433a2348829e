"""``python -m bench NAME [NAME ...] | all [--seeds N]``: run benchmarks over seeds, write ``bench/results/NAME.json``.

NAME is a registered recipe (its full-size run over seeds, against its quality bars) or one of the benches in
``BENCHES``; ``all`` is every recipe, then the others; ``--list`` says what each measures. Each quality figure is
recorded per seed and as mean ± sd (min, max) over the seeds; a bar is judged on the mean. Without ``--seeds``
each bench runs its own ``DEFAULT_SEEDS``. What the named benches need (the ``bench`` extra, earlier results) is
checked before anything trains. Every bench module has the same shape (:mod:`bench.common`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import zoo
from bench.common import RESULTS_DIR, BenchRecord, missing_modules, run_seeds
from bench.timing import WorkerError
from zoo.cli import OneLineParser

RECIPE_SEEDS = 3  # for a recipe without a bench module of its own
BENCHES = {  # benches that are not a recipe's run: name → module
    "serve": "bench.serve_bench", "hf": "bench.hf", "data": "bench.data", "unseen_data": "bench.unseen_data",
    "electra_context": "bench.electra_context", "pretraining_speed": "bench.pretraining_speed",
    "t5_span_corruption": "bench.t5_span_corruption", "scale_out": "bench.scale_out", "generate": "bench.generate",
    "gpt2_speed": "bench.gpt2_speed", "speed": "bench.speed",
}
RECORD_HEADER = ("benchmark", "date", "machine", "libraries")  # what every BenchRecord starts with
INSTALL_HINT = "run `make bench` or `pip install -e '.[bench]'`"


def bench_module(name: str) -> ModuleType | None:
    module = BENCHES.get(name, f"bench.{name}")
    return importlib.import_module(module) if importlib.util.find_spec(module) is not None else None


def summary(name: str, module: ModuleType | None) -> str:
    """What ``name`` measures: the first sentence of its module's docstring, or the recipe's bars."""
    if module is not None and module.__doc__:
        paragraph = " ".join(module.__doc__.strip().split("\n\n")[0].split()).removeprefix(f"{name}: ")
        sentence = re.split(r"(?<=[.?])\s", paragraph)[0]
        return sentence if len(sentence) <= 100 else sentence[:sentence.rindex(" ", 0, 100)] + " …"
    bars = "; ".join(str(bar) for bar in zoo.get_recipe(name).bars) or "its test metrics"
    return f"the default config over seeds: {bars}"


def seeds_of(name: str, module: ModuleType | None, count: int | None) -> list[int]:
    """Seeds 0 … N-1: N from ``--seeds``, else the bench's ``DEFAULT_SEEDS``."""
    return list(range(count or getattr(module, "DEFAULT_SEEDS", 1 if name in BENCHES else RECIPE_SEEDS)))


def bench_one(name: str, module: ModuleType | None, results_dir: Path, seeds: list[int]) -> Path | None:
    """Runs one bench; the path of its record, or None if it measured nothing (an earlier record is left whole)."""
    record = BenchRecord(name, results_dir, () if name in BENCHES else zoo.get_recipe(name).bars)
    (module.run if module is not None else run_seeds)(record, seeds)
    return record.path if record.written else None


def report(name: str, path: Path) -> str:
    """What ``python -m bench`` prints after a bench: where its record is, the parts the record holds (beyond the
    header every record starts with) and, where it has them, its figures over seeds and its bars."""
    saved = json.loads(path.read_text())
    lines = [f"{name}: {path}", "recorded: " + ", ".join(key for key in saved if key not in RECORD_HEADER)]
    judged = {key: saved[key] for key in ("metrics", "bars") if key in saved}
    if judged:
        lines.append(json.dumps(judged, indent=2))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"recipe names, {', '.join(BENCHES)}, or 'all'")
    parser.add_argument("--list", action="store_true", help="list every bench and what it measures")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: each bench's DEFAULT_SEEDS)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    known = [*zoo.list_recipes(), *BENCHES]
    if args.list:
        width = max(map(len, known))
        print("\n".join(f"{name.ljust(width)}  {summary(name, bench_module(name))}" for name in known))
        return 0
    if not args.names:
        parser.error("give benchmark names, 'all', or --list")
    names = known if args.names == ["all"] else args.names
    unknown = sorted(set(names) - set(known))
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {known}")
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    modules = {name: bench_module(name) for name in names}
    for name, module in modules.items():
        missing = missing_modules(getattr(module, "REQUIRES", ()))
        if missing:
            parser.exit(2, f"python -m bench: {name} needs {', '.join(missing)} (the bench extra): {INSTALL_HINT}\n")
        problem = getattr(module, "check", lambda *_: None)(args.results_dir, seeds_of(name, module, args.seeds))
        if problem:
            parser.exit(2, f"python -m bench: {name}: {problem}\n")
    for name, module in modules.items():
        try:
            path = bench_one(name, module, args.results_dir, seeds_of(name, module, args.seeds))
        except WorkerError as error:  # its traceback stays in error.stderr; the console gets one line
            parser.exit(1, f"python -m bench: {name}: {error}\n")
        print(report(name, path) if path else f"{name}: measured nothing; {args.results_dir / (name + '.json')} "
              "left as it was")
    return 0


if __name__ == "__main__":
    sys.exit(main())
