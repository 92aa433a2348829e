"""electra: ELECTRA vs masked-LM BERT at equal pretraining compute, then identical BBC News fine-tuning.

Both pretrain a discriminator-sized encoder (hidden 128, 2 layers, 2 heads, sequence 64) from scratch on the
BBC training-split articles with the same steps (1,000), batch (32), learning rate and masking; ELECTRA adds its small
generator (hidden 32); a third arm fine-tunes the same ELECTRA encoder with no pretraining at all. Each is then
fine-tuned the same way; test accuracy mean and spread over seeds, and the pretraining wall time, are reported.

    python -m bench electra       # or: python -m bench.electra
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

import zoo
from bench.common import RESULTS_DIR, write_result

SEEDS = (0, 1, 2)
# Sized for a 2-core CPU: one ELECTRA step at sequence 64 took 0.3 s on quiet cores (1.5 s on busy ones); at 300
# steps the discriminator had not started learning (replaced accuracy = 1 - replaced fraction), hence 1,000.
SHARED = {"pretrain_steps": 1000, "pretrain_batch_size": 32, "pretrain_learning_rate": 5e-4, "hidden_dim": 128,
          "num_layers": 2, "num_heads": 2, "sequence_length": 64, "epochs": 3, "batch_size": 32,
          "learning_rate": 3e-4}
# The third arm is the same ELECTRA encoder fine-tuned with no pretraining: what either objective adds.
OBJECTIVES = {"electra": ("electra", {}), "mlm_bert": ("bert", {"init": "scratch"}),
              "no_pretraining": ("electra", {"pretrain_steps": 0})}


def one_run(recipe_name: str, overrides: dict[str, Any], seed: int) -> dict[str, float]:
    cls = zoo.get_recipe(recipe_name)
    config = zoo.config.apply_overrides(cls.Config(), {**SHARED, **overrides, "seed": seed})
    scratch = Path(tempfile.mkdtemp(prefix=f"zoo-bench-{recipe_name}-"))
    recipe = cls(config, run_dir=scratch / "run", verbose=2)
    result = recipe.run(export_dir=scratch / "exports")
    pretraining = result.trained.pretraining  # did the objective learn? (MLM accuracy, replaced AUC over the run)
    return {"test_accuracy": result.metrics["test_accuracy"],
            "pretraining": {k: v for k, v in pretraining.items() if k not in ("steps", "seconds")},
            "pretrain_seconds": round(pretraining["seconds"], 1),
            "wall_seconds": round(result.wall_seconds, 1)}


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    accuracies = [r["test_accuracy"] for r in runs]
    return {
        "test_accuracy_mean": round(statistics.mean(accuracies), 4),
        "test_accuracy_stdev": round(statistics.stdev(accuracies), 4) if len(accuracies) > 1 else 0.0,
        "test_accuracy_min_max": [round(min(accuracies), 4), round(max(accuracies), 4)],
        "pretrain_seconds_mean": round(statistics.mean(r["pretrain_seconds"] for r in runs), 1),
        "runs": runs,
    }


def run(results_dir: Path = RESULTS_DIR) -> dict[str, Any]:
    table = {name: summary([one_run(recipe, overrides, seed) for seed in SEEDS])
             for name, (recipe, overrides) in OBJECTIVES.items()}
    electra, mlm = table["electra"]["test_accuracy_mean"], table["mlm_bert"]["test_accuracy_mean"]
    return {"shared_config": SHARED, "seeds": list(SEEDS), "results": table,
            "electra_minus_mlm": round(electra - mlm, 4), "bar_electra_higher": electra > mlm}


if __name__ == "__main__":
    print(write_result("electra", run()))
