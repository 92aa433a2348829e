"""``python -m bench NAME [NAME ...] | all [--seeds N]``: run benchmarks over seeds, write ``bench/results/NAME.json``.

NAME is a registered recipe, ``serve`` (the serving bench), ``hf`` (Hugging Face checkpoints against PyTorch) or
``data`` (reading a 1 GB CSV; what reading a CSV adds to an lstm epoch); ``all`` is every recipe, then the others. Each
quality figure is recorded per seed and as mean ± sd (min, max) over the seeds; a bar is judged on the mean.
Without ``--seeds`` each bench runs its own ``DEFAULT_SEEDS`` (3 for the quick recipes; see each module).
Everything the named benches import from the ``bench`` extra is checked before anything trains.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import zoo
from bench.common import RESULTS_DIR, BenchRecord, OneLineParser, missing_modules, run_seeds, write_result

DEFAULT_SEEDS = 3  # for a recipe without a bench module of its own
SERVE = "serve"
STANDALONE = {SERVE: "bench.serve_bench", "hf": "bench.hf", "data": "bench.data"}  # no recipe: run(record), no seeds
INSTALL_HINT = "run `make bench` or `pip install -e '.[bench]'`"


def bench_module(name: str) -> ModuleType | None:
    module = STANDALONE.get(name, f"bench.{name}")
    return importlib.import_module(module) if importlib.util.find_spec(module) is not None else None


def bench_one(name: str, module: ModuleType | None, results_dir: Path, seeds: int | None) -> Path:
    if name in STANDALONE:
        record = BenchRecord(name, results_dir)
        module.run(record)
        return record.path
    if module is not None and not hasattr(module, "DEFAULT_SEEDS"):  # a bench that picks its own seeds (electra)
        return write_result(name, module.run(results_dir), results_dir)
    count = seeds or getattr(module, "DEFAULT_SEEDS", DEFAULT_SEEDS)
    bars = zoo.get_recipe(name).bars if name in zoo.list_recipes() else ()
    record = BenchRecord(name, results_dir, bars)
    if module is None:
        run_seeds(record, range(count))
    else:
        module.run(record, list(range(count)))
    return record.path


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", metavar="NAME", help=f"recipe names, {', '.join(STANDALONE)}, or 'all'")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: each bench's DEFAULT_SEEDS)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    known = [*zoo.list_recipes(), *STANDALONE]
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
    for name, module in modules.items():
        path = bench_one(name, module, args.results_dir, args.seeds)
        saved = json.loads(path.read_text())
        print(f"{name}: {path}")
        print(json.dumps({k: v for k, v in saved.items() if k in ("metrics", "bars")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
