"""electra: ELECTRA vs masked-LM BERT vs no pretraining, at equal pretraining steps, then identical BBC fine-tuning.

Three arms, each run as the recipes run it (``zoo.run``) on seeds 0, 1, 2:

- ``electra``: the electra recipe's pretraining (replaced-token detection; the generator reuses the
  discriminator's layers, λ = 1, never the original token) for 4,000 steps, twice the recipe's default: at
  2,000 the discriminator has not yet learned to read context (docs/pretraining.md);
- ``mlm_bert``: ``bert --set init=scratch`` (masked LM), the same encoder size, steps, batch, masking, learning
  rate schedule and corpus (the BBC training-split articles, in 47-word windows);
- ``no_pretraining``: the electra encoder fine-tuned with ``pretrain_steps=0``, what either objective adds.

Then the same fine-tuning for all (3 epochs, batch 32, Adam 3e-4, sequence 64). Both objectives see the same
tokens; their pretraining compute is reported as wall time and as training FLOPs (:func:`pretraining_flops`). Did
each objective learn? Each run keeps its pretraining curves (means per 100 steps: the masked-LM accuracy of
``mlm_bert``, the discriminator's ROC AUC of ``electra``), plotted over seeds to
``bench/results/electra_pretraining.png``.

    python -m bench electra       # 73 minutes of runs on 2 cores (measured two at a time, 2026-12-05)
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

import zoo
from bench.common import BenchRecord, run_recipe, seed_stats
from bench.plots import plt

DEFAULT_SEEDS = 3
REQUIRES = ("matplotlib",)
SHARED = {"pretrain_steps": 4000, "pretrain_batch_size": 32, "pretrain_learning_rate": 1e-3, "hidden_dim": 128,
          "num_layers": 2, "num_heads": 2, "sequence_length": 64, "epochs": 3, "batch_size": 32,
          "learning_rate": 3e-4}
ARMS = {"electra": ("electra", {}), "mlm_bert": ("bert", {"init": "scratch"}),
        "no_pretraining": ("electra", {"pretrain_steps": 0})}
# the curves that show whether each objective learned: (panel title, y range, [(arm, metric, label)])
LEARNING_CURVES = (
    ("masked-LM accuracy (selected tokens)", (0.0, 0.5),
     [("mlm_bert", "mlm_accuracy", "mlm_bert"), ("electra", "generator_accuracy", "electra's generator")]),
    ("discriminator ROC AUC against its own generator", (0.4, 1.0), [("electra", "replaced_auc", "electra")]),
)
MASK_RATE, VOCABULARY = 0.15, 30522  # masked_lm_dataset's default rate; the BERT WordPiece vocabulary
GENERATOR_HIDDEN = zoo.get_recipe("electra").Config().generator_hidden_dim


def one_run(arm: str, seed: int) -> dict[str, Any]:
    """One arm on one seed, as ``python -m zoo.run`` runs it: test accuracy, pretraining figures and curves."""
    recipe, overrides = ARMS[arm]
    result = run_recipe(recipe, **{**SHARED, **overrides}, seed=seed)
    trained = result.trained
    return {"seed": seed, "test_accuracy": result.metrics["test_accuracy"],
            "pretraining": {k: v for k, v in trained.pretraining.items() if k != "seconds"},
            "pretraining_history": trained.pretraining_history,
            "pretrain_seconds": round(trained.pretraining["seconds"], 1),
            "wall_seconds": round(result.wall_seconds, 1)}


def pretraining_flops(arm: str, config: Mapping[str, Any] = SHARED) -> float:
    """Training FLOPs of ``arm``'s pretraining: 3 × the forward pass (forward, then two products per weight in
    the backward pass) of every matrix product, counted from the shapes (2 FLOPs per multiply-add); sampling,
    layer norms and softmaxes are left out.

    Per step: the encoder over every token (8h² + 4hi for the projections and feed-forward, 4nh for attention,
    per layer), and a vocabulary projection at the masked positions (``MaskedLMHead``: dense to the embedding
    size, then the tied 30,522-way output). ELECTRA runs the encoder twice (the generator reuses the
    discriminator's layers on the masked input, the discriminator reads the corrupted one), projects to the
    generator's hidden 32 before its head, and adds its per-token replaced-token head.

    >>> round(pretraining_flops("electra") / pretraining_flops("mlm_bert"), 2)
    1.43
    >>> pretraining_flops("no_pretraining")
    0.0
    """
    h, layers, n = config["hidden_dim"], config["num_layers"], config["sequence_length"]
    i, steps, batch = 4 * h, config["pretrain_steps"], config["pretrain_batch_size"]
    tokens, masked = batch * n, batch * round(n * MASK_RATE)
    encoder = tokens * layers * (8 * h * h + 4 * h * i + 4 * n * h)
    if arm == "mlm_bert":
        forward = encoder + masked * (2 * h * h + 2 * h * VOCABULARY)
    elif arm == "electra":
        generator = encoder + tokens * 2 * h * GENERATOR_HIDDEN + masked * (2 * GENERATOR_HIDDEN * h + 2 * h * VOCABULARY)
        forward = generator + encoder + tokens * (2 * h * h + 2 * h)
    else:
        return 0.0
    return float(3 * forward * steps)


def arm_summary(arm: str, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One arm over seeds: test accuracy, and for a pretrained arm its final pretraining figures, time and FLOPs."""
    summary = {"test_accuracy": seed_stats([r["test_accuracy"] for r in runs])}
    if runs[0]["pretraining"]["steps"] > 0:
        final = [name for name in runs[0]["pretraining"] if name not in ("steps", "chunk_steps")]
        summary["pretraining_final"] = {name: seed_stats([r["pretraining"][name] for r in runs]) for name in final}
        summary["pretrain_seconds"] = seed_stats([r["pretrain_seconds"] for r in runs])
        summary["pretraining_tflops"] = round(pretraining_flops(arm) / 1e12, 2)
    return {**summary, "runs": list(runs)}


def comparison(runs: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The result: each arm's summary over its runs (``runs[arm]`` = one :func:`one_run` per seed) and the bar."""
    results = {arm: arm_summary(arm, arm_runs) for arm, arm_runs in runs.items()}
    means = {arm: r["test_accuracy"]["mean"] for arm, r in results.items()}
    judged = {str(bar): bar.met({"test_accuracy": means["electra"]}, {arm: {"test_accuracy": mean}
                                                                     for arm, mean in means.items()})
              for bar in zoo.get_recipe("electra").bars}
    return {"shared_config": SHARED, "seeds": sorted({r["seed"] for arm_runs in runs.values() for r in arm_runs}),
            "results": results,
            "electra_minus_mlm": round(means["electra"] - means["mlm_bert"], 4),
            "electra_minus_no_pretraining": round(means["electra"] - means["no_pretraining"], 4),
            "mlm_minus_no_pretraining": round(means["mlm_bert"] - means["no_pretraining"], 4),
            "bars": judged}


def plot(result: Mapping[str, Any], path: Path) -> Path:
    """Each objective's learning curves (every seed thin, their mean thick), and every run's fine-tuned accuracy."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for axis, (title, limits, curves) in zip(axes, LEARNING_CURVES):
        for (arm, metric, label), color in zip(curves, ("tab:blue", "tab:orange")):
            runs = result["results"][arm]["runs"]
            values = [r["pretraining_history"][metric] for r in runs]
            steps = [runs[0]["pretraining"]["chunk_steps"] * (k + 1) for k in range(len(values[0]))]
            for curve in values:
                axis.plot(steps, curve, color=color, alpha=0.3, linewidth=1)
            axis.plot(steps, [statistics.fmean(v) for v in zip(*values)], color=color, linewidth=2.5,
                      label=f"{label} (mean of {len(values)} seeds)")
        if limits[0] > 0:
            axis.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
        axis.set(title=title, xlabel="pretraining step", ylim=limits)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    accuracy_axis = axes[2]
    for x, (arm, summary) in enumerate(result["results"].items()):
        values = summary["test_accuracy"]["values"]
        accuracy_axis.scatter([x] * len(values), values, color="tab:green", zorder=3)
        accuracy_axis.hlines(summary["test_accuracy"]["mean"], x - 0.25, x + 0.25, color="black")
    accuracy_axis.set_xticks(range(len(result["results"])), list(result["results"]))
    accuracy_axis.set(title="fine-tuned BBC test accuracy (dots: seeds; bar: mean)")
    accuracy_axis.grid(alpha=0.3)
    figure.suptitle("Pretraining on BBC News (means per 100 training steps), then identical fine-tuning")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def run(record: BenchRecord, seeds: Sequence[int]) -> None:
    result = comparison({arm: [one_run(arm, seed) for seed in seeds] for arm in ARMS})
    for key, value in result.items():
        record.add(key, value)
    record.add("figure", plot(result, record.path.parent / "electra_pretraining.png").name)
