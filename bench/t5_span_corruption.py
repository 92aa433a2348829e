"""t5 with span-corruption pretraining: does T5's own pretraining objective pay off at this scale?

Each seed runs the t5 recipe with ``SPAN_CORRUPTION`` (ten passes of span corruption over the training sources
before fine-tuning) and is compared with the default run of the same seed that ``python -m bench t5`` recorded in
``bench/results/t5.json`` (run that first). Kept per seed: exact match, and the pretraining's loss and token
accuracy after every pass (did it learn?). About 40 minutes a seed on 2 cores.

    python -m bench.t5_span_corruption [--seeds N]
"""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence

from bench.common import RESULTS_DIR, BenchRecord, OneLineParser, run_recipe, seed_stats
from zoo.quiet import known_notices_quieted

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


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m bench.t5_span_corruption", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help=f"seeds 0..N-1 ({DEFAULT_SEEDS})")
    args = parser.parse_args(argv)
    default_runs = RESULTS_DIR / "t5.json"
    if not default_runs.is_file():
        parser.error(f"{default_runs} is missing: run `python -m bench t5` first")
    defaults = {run["seed"]: run["metrics"]["test_exact_match"]
                for run in json.loads(default_runs.read_text())["runs"]}
    if args.seeds < 1 or any(seed not in defaults for seed in range(args.seeds)):
        parser.error(f"--seeds {args.seeds}: bench/results/t5.json has default runs of seeds {sorted(defaults)}")
    record = BenchRecord("t5_span_corruption")
    runs = []
    with known_notices_quieted():
        for seed in range(args.seeds):
            runs.append(span_corruption_run(seed))
            record_runs(record, runs, defaults)
    print(record.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
