"""``python -m bench RECIPE [RECIPE ...] | all``: run benchmarks, write ``bench/results/RECIPE.json``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import zoo
from bench.common import RESULTS_DIR, recipe_result, run_recipe, write_result


def bench_one(name: str, results_dir: Path) -> Path:
    if importlib.util.find_spec(f"bench.{name}") is not None:
        payload = importlib.import_module(f"bench.{name}").run(results_dir)
    else:
        payload = recipe_result(run_recipe(name))
    return write_result(name, payload, results_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("recipes", nargs="+", help="recipe names, or 'all'")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    names = zoo.list_recipes() if args.recipes == ["all"] else args.recipes
    unknown = sorted(set(names) - set(zoo.list_recipes()))
    if unknown:
        parser.error(f"unknown recipes {unknown}; known: {zoo.list_recipes()}")
    for name in names:
        path = bench_one(name, args.results_dir)
        print(f"{name}: {path}")
        print(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k in ("metrics", "bars", "ratio")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
