"""``python -m bench``: figures over seeds (mean ± sd, bars on the mean), parts kept as they come, the bench extra
checked before anything trains."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

import zoo
from bench.common import BenchRecord, run_seeds, seed_stats
from zoo_subprocess import REPO, run_python

BAR = zoo.QualityBar("test_accuracy", ">=", 0.96)


def test_bar_is_judged_on_the_mean_with_per_seed_values_kept(tmp_path: Path) -> None:
    record = BenchRecord("demo", tmp_path, bars=(BAR,))
    for seed, accuracy in enumerate([0.97, 0.955, 0.965]):
        record.add_run(seed, {"metrics": {"test_accuracy": accuracy, "test_loss": 0.1 * (seed + 1)}})
    saved = json.loads((tmp_path / "demo.json").read_text())
    accuracy = saved["metrics"]["test_accuracy"]
    assert accuracy["values"] == [0.97, 0.955, 0.965]
    assert accuracy["n"] == 3 and (accuracy["min"], accuracy["max"]) == (0.955, 0.97)
    assert accuracy["mean"] == pytest.approx(0.963333, abs=1e-6)
    assert accuracy["sd"] == pytest.approx(statistics.stdev([0.97, 0.955, 0.965]), abs=1e-6)
    assert saved["bars"] == {"test_accuracy >= 0.96": True}  # one seed under the bar, the mean over it
    assert saved["seeds"] == [0, 1, 2] and [r["seed"] for r in saved["runs"]] == [0, 1, 2]

    record.add_run(3, {"metrics": {"test_accuracy": 0.90, "test_loss": 0.5}})
    assert json.loads(record.path.read_text())["bars"] == {"test_accuracy >= 0.96": False}


def test_a_part_that_fails_later_loses_nothing_written_before(tmp_path: Path) -> None:
    record = BenchRecord("demo", tmp_path, bars=(BAR,))

    def bench():
        record.add_run(0, {"metrics": {"test_accuracy": 0.97}})
        record.add("baseline", {"test_accuracy": 0.98})
        raise ModuleNotFoundError("No module named 'torch'")

    with pytest.raises(ModuleNotFoundError):
        bench()
    saved = json.loads(record.path.read_text())
    assert saved["metrics"]["test_accuracy"]["values"] == [0.97]
    assert saved["baseline"] == {"test_accuracy": 0.98}
    assert {"date", "machine", "libraries"} <= saved.keys()


def test_a_bench_stopped_before_measuring_leaves_the_previous_result_whole(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text('{"metrics": {"test_accuracy": {"mean": 0.97}}}')
    record = BenchRecord("demo", tmp_path, bars=(BAR,))
    record.describe("config", {"epochs": 3})
    assert json.loads(record.path.read_text()) == {"metrics": {"test_accuracy": {"mean": 0.97}}}
    record.add_run(0, {"metrics": {"test_accuracy": 0.95}})
    assert json.loads(record.path.read_text())["config"] == {"epochs": 3}


@pytest.mark.slow
def test_run_seeds_records_each_seed_of_a_real_recipe_run(tmp_path: Path) -> None:
    record = BenchRecord("cnn_mnist", tmp_path, bars=zoo.get_recipe("cnn_mnist").bars)
    first = run_seeds(record, [0, 1], **zoo.get_recipe("cnn_mnist").tiny)
    saved = json.loads(record.path.read_text())
    values = saved["metrics"]["test_accuracy"]["values"]
    assert saved["seeds"] == [0, 1] and len(values) == 2
    assert values[0] == pytest.approx(first.metrics["test_accuracy"])
    assert values[0] != values[1]  # each seed is its own run
    assert "seed" not in saved["config"] and saved["config"]["epochs"] == 1
    assert saved["bars"] == {"test_accuracy >= 0.994": statistics.fmean(values) >= 0.994}


# torch made unimportable in the child, as in a venv without the bench extra (imports of it raise)
BLOCK_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
from bench.__main__ import main
sys.exit(main(ARGV))
"""


def test_a_missing_bench_extra_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    argv = ["lstm", "bert", "--results-dir", str(tmp_path / "results")]
    done = run_python(["-c", BLOCK_TORCH.replace("ARGV", repr(argv))], cwd=REPO, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("python -m bench: bert needs torch (the bench extra): run `make bench` or "
                                   "`pip install -e '.[bench]'`")
    assert not (tmp_path / "results").exists()  # lstm, named first, did not start either


@pytest.mark.parametrize("argv, message", [
    (["nope"], "unknown benchmarks ['nope']"),
    (["lstm", "--seeds", "0"], "--seeds must be at least 1"),
    ([], "give benchmark names, 'all', or --list"),
    (["lstm", "t5_span_corruption"], "t5_span_corruption: "),  # no t5 results in the empty results directory
])
def test_usage_errors_exit_2_and_write_nothing(tmp_path: Path, argv: list[str], message: str) -> None:
    done = run_python(["-m", "bench", *argv, "--results-dir", str(tmp_path / "results")], cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1  # no TensorFlow start-up lines
    assert not (tmp_path / "results").exists()


def test_a_bench_without_figures_over_seeds_prints_its_results_path_and_what_it_recorded(
        tmp_path: Path, monkeypatch, capsys) -> None:
    import bench.__main__ as bench_main

    def speed_like(name, module, results_dir, seeds):  # a record as speed's or serve's: no metrics, no bars
        record = BenchRecord(name, results_dir)
        record.add("setup", {"batch": 8})
        record.add("goals", {"faster_than_pytorch": True})
        return record.path

    monkeypatch.setattr(bench_main, "bench_one", speed_like)
    assert bench_main.main(["lstm", "--results-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"lstm: {tmp_path / 'lstm.json'}\nrecorded: setup, goals\n"
    assert list(BenchRecord("demo", tmp_path).payload) == list(bench_main.RECORD_HEADER)


def test_a_bench_that_measures_nothing_says_so_and_leaves_the_earlier_record_whole(tmp_path: Path, monkeypatch,
                                                                                  capsys) -> None:
    import types

    import bench.__main__ as bench_main

    earlier = tmp_path / "unseen_data.json"
    earlier.write_text('{"benchmark": "unseen_data", "parts": "measured before"}\n')
    every_part_skipped = types.SimpleNamespace(run=lambda record, seeds: record.describe("setup", {"parts": []}))
    monkeypatch.setattr(bench_main, "bench_module", lambda name: every_part_skipped)
    assert bench_main.main(["unseen_data", "--results-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"unseen_data: measured nothing; {earlier} left as it was\n"
    assert "measured before" in earlier.read_text()


def test_a_recipe_bench_prints_its_figures_over_seeds_and_its_bars_too(tmp_path: Path) -> None:
    from bench.__main__ import report

    record = BenchRecord("demo", tmp_path, bars=(BAR,))
    record.add_run(0, {"metrics": {"test_accuracy": 0.97}})
    path_line, recorded, figures = report("demo", record.path).split("\n", 2)
    assert (path_line, recorded) == (f"demo: {record.path}", "recorded: seeds, metrics, bars, runs")
    assert json.loads(figures) == {"metrics": {"test_accuracy": seed_stats([0.97])},
                                   "bars": {"test_accuracy >= 0.96": True}}


def test_every_bench_module_has_one_shape_and_is_listed(capsys) -> None:
    import inspect

    from bench.__main__ import BENCHES, bench_module, main

    names = [*zoo.list_recipes(), *BENCHES]
    assert main(["--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == names
    for name in names:
        module = bench_module(name)
        if module is not None:
            assert list(inspect.signature(module.run).parameters)[:2] == ["record", "seeds"], name


@pytest.mark.slow
def test_kmeans_bench_compares_the_export_with_the_trained_kmeans() -> None:
    from bench.kmeans import run_features

    run = run_features(**zoo.get_recipe("kmeans").tiny)
    assert run["test_images_compared"] == 10_000
    assert run["export_equals_sklearn_predict"] and run["assignments_differing"] == 0


def test_data_bench_reads_and_tokenises_a_csv_in_a_fresh_process_and_weighs_its_memory(tmp_path, monkeypatch) -> None:
    from bench import data

    monkeypatch.setattr(data, "TARGET_BYTES", 400_000)
    record = BenchRecord("data", tmp_path)
    data.scale(record, tmp_path)
    scale = json.loads(record.path.read_text())["scale"]
    assert scale["csv"]["bytes"] >= 400_000 and scale["rows"] == scale["csv"]["rows"]
    assert scale["text_bytes_kept"] > 0.9 * scale["csv"]["bytes"] and scale["tokens"] > scale["rows"]
    assert scale["read_rows_per_second"] > 0
    assert scale["peak_rss_kib"] >= scale["peak_rss_reading_kib"] > 0 and scale["peak_rss_growth_over_text_kept"] >= 0


def test_lstm_judges_the_seed_floor_and_the_goal_on_the_recorded_seeds(tmp_path: Path) -> None:
    from bench.lstm import judge

    record = BenchRecord("lstm", tmp_path, bars=zoo.get_recipe("lstm").bars)
    record.add("tfidf_logreg", {"test_accuracy": 0.982})
    for seed, accuracy in enumerate([0.975, 0.977, 0.973]):
        record.add_run(seed, {"metrics": {"test_accuracy": accuracy}})
    judge(record)
    saved = json.loads(record.path.read_text())
    assert saved["seed_floor"]["met"] and saved["goal_within_1_point"] and saved["gap_to_baseline"] == 0.007
    record.add_run(3, {"metrics": {"test_accuracy": 0.945}})
    judge(record)
    saved = json.loads(record.path.read_text())
    assert not saved["seed_floor"]["met"] and not saved["goal_within_1_point"]
    assert saved["bars"] == {"test_accuracy >= 0.96": True}  # the mean, 0.9675, still meets the bar


def electra_run(arm: str, seed: int, accuracy: float) -> dict:
    """A run as ``bench.electra.one_run`` records it, with made-up figures (no training)."""
    curves = {"mlm_bert": {"mlm_accuracy": [0.05, 0.1 + seed / 100]},
              "electra": {"replaced_auc": [0.5, 0.7 + seed / 100], "generator_accuracy": [0.05, 0.09]}}.get(arm, {})
    pretraining = {"steps": 0} if not curves else {"steps": 200, "chunk_steps": 100,
                                                   **{k: v[-1] for k, v in curves.items()}}
    return {"seed": seed, "test_accuracy": accuracy, "pretraining": pretraining, "pretraining_history": curves,
            "pretrain_seconds": 10.0 + seed if curves else 0.0, "wall_seconds": 60.0}


def test_electra_comparison_summarises_each_arm_over_seeds_and_plots_the_curves(tmp_path: Path) -> None:
    from bench.electra import comparison, plot, pretraining_flops
    from bench.table import comparison_row

    accuracies = {"electra": [0.80, 0.84], "mlm_bert": [0.82, 0.86], "no_pretraining": [0.60, 0.62]}
    result = comparison({arm: [electra_run(arm, seed, a) for seed, a in enumerate(values)]
                         for arm, values in accuracies.items()})
    assert result["seeds"] == [0, 1] and result["bars"] == {"test_accuracy > mlm_bert": False}
    assert result["electra_minus_mlm"] == pytest.approx(-0.02) and result["mlm_minus_no_pretraining"] == pytest.approx(0.23)
    electra = result["results"]["electra"]
    assert electra["pretraining_final"]["replaced_auc"]["values"] == [0.7, 0.71]
    assert electra["pretraining_tflops"] == round(pretraining_flops("electra") / 1e12, 2) > 0
    assert "pretraining_final" not in result["results"]["no_pretraining"]
    path = plot(result, tmp_path / "electra_pretraining.png")
    assert path.stat().st_size > 10_000
    row = comparison_row("electra", {**result, "date": "2026-12-05T01:00:00+00:00"})
    assert row == ("| `electra` | `test_accuracy`: ELECTRA / MLM BERT / no pretraining | 0.8200 ± 0.0283 / "
                   "0.8400 ± 0.0283 / 0.6100 ± 0.0141 | 0.8000 – 0.8400 / 0.8200 – 0.8600 / 0.6000 – 0.6200 | 2 | "
                   "ELECTRA > MLM BERT | **no** | 2026-12-05 |")


def test_each_electra_arm_runs_its_recipe_with_the_shared_config_and_its_own_overrides(monkeypatch) -> None:
    import bench.electra
    from types import SimpleNamespace

    calls = {}

    def fake_run_recipe(name, **overrides):
        calls[overrides.get("init", name) if overrides.get("pretrain_steps") else "none"] = (name, overrides)
        trained = SimpleNamespace(pretraining={"steps": overrides["pretrain_steps"], "seconds": 1.0},
                                  pretraining_history={})
        return SimpleNamespace(metrics={"test_accuracy": 0.5}, trained=trained, wall_seconds=2.0)

    monkeypatch.setattr(bench.electra, "run_recipe", fake_run_recipe)
    runs = {arm: bench.electra.one_run(arm, seed=1) for arm in bench.electra.ARMS}
    assert calls["electra"] == ("electra", {**bench.electra.SHARED, "seed": 1})
    assert calls["scratch"] == ("bert", {**bench.electra.SHARED, "init": "scratch", "seed": 1})
    assert calls["none"] == ("electra", {**bench.electra.SHARED, "pretrain_steps": 0, "seed": 1})
    assert runs["no_pretraining"]["pretraining"] == {"steps": 0} and runs["electra"]["pretrain_seconds"] == 1.0


def test_electra_context_reports_plain_and_within_token_auc_of_a_short_run(monkeypatch) -> None:
    import bench.electra_context as context
    from zoo.models.hf.bert_checkpoint import minilm_directory
    from zoo.models.text.wordpiece import WordpieceTokenizer

    monkeypatch.setattr(context, "HELD_OUT_BATCHES", 2)
    tokenizer = WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt",
                                                        sequence_length=context.SEQUENCE_LENGTH)
    texts = [f"the {word} rose again on monday as markets in london opened" for word in ("price", "pound")] * 40
    run = context.detection(2.0, tokenizer, texts, texts, steps=2, seed=1)
    assert run["temperature"] == 2.0 and len(run["replaced_auc_curve"]) == 1  # one chunk of 2 steps
    assert all(0.0 <= run[k] <= 1.0 for k in ("auc", "within_token_auc"))
    assert set(run["prior_swaps_within_token_auc"]) == {"masked_lm", "discriminator"}
    assert all(0.0 <= auc <= 1.0 for auc in run["prior_swaps_within_token_auc"].values())
    assert 0.1 < run["replaced_fraction"] < 0.2  # 15% of the real tokens selected, every one replaced


def test_prior_swap_detection_is_perfect_for_a_scorer_that_knows_the_text_and_blind_for_one_that_does_not() -> None:
    """Every window is "a b a b ...": a masked LM that always predicts the true token at each position, or a
    discriminator that flags every token differing from the text, tells the swapped-in tokens from the originals
    perfectly; a masked LM that predicts the prior everywhere, or a constant discriminator, cannot."""
    import numpy as np
    import tensorflow as tf
    from bench.electra_context import discriminator_scorer, masked_lm_scorer, prior_swap_detection

    ids = tf.constant([[5, 6, 5, 6]] * 64)
    features = {"token_ids": ids, "mask_positions": tf.constant([[0, 1, 2, 3]] * 64)}
    dataset = tf.data.Dataset.from_tensors((features, ids, tf.ones([64, 4]))).repeat()
    prior = np.log(np.array([1e-9] * 5 + [0.25, 0.25, 0.25, 0.25]))

    class Discriminator:
        def __init__(self, reads_context: bool) -> None:
            self.reads_context = reads_context

        def replaced_logits(self, inputs, training):
            differs = tf.cast(tf.not_equal(inputs["token_ids"], ids), tf.float32)
            return differs if self.reads_context else tf.zeros_like(differs)

    scorers = {"knowing": masked_lm_scorer(lambda f, training: 20.0 * tf.one_hot(ids, 9)),
               "guessing": masked_lm_scorer(lambda f, training: tf.broadcast_to(tf.constant(prior, tf.float32),
                                                                               [64, 4, 9])),
               "reading": discriminator_scorer(Discriminator(reads_context=True)),
               "constant": discriminator_scorer(Discriminator(reads_context=False))}
    assert prior_swap_detection(scorers, prior, dataset, batches=2) == {
        "knowing": 1.0, "guessing": 0.5, "reading": 1.0, "constant": 0.5}


def test_electra_context_keeps_each_budget_in_its_own_file_and_refuses_a_budget_without_warmup() -> None:
    from bench.electra_context import STEPS, result_name

    assert result_name(STEPS) == "electra_context"
    assert result_name(4000) == "electra_context_4000_steps"
    assert result_name(4000, seed=1) == "electra_context_4000_steps_seed_1"
    assert result_name(STEPS, seed=2) == "electra_context_seed_2"
    done = run_python(["-m", "bench.electra_context", "--steps", "0"], cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m bench.electra_context: error: --steps must be at least 10 (the warmup is a tenth of them), got 0"]
    from bench.electra_context import main
    with pytest.raises(SystemExit) as exit_info:
        main(["--seed", "-1"])
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_scale_out_trains_one_worker_and_two_and_compares_their_accuracy(tmp_path) -> None:
    from bench import scale_out
    from bench.table import scale_out_row

    record = BenchRecord("scale_out", tmp_path)
    tiny = {"epochs": 1, "max_examples": 256, "filters": 8, "min_epoch_examples": 0}
    scale_out.run(record, [0], recipes=("cnn_mnist",), overrides=tiny)
    result = json.loads(record.path.read_text())
    part = result["cnn_mnist"]
    run, = part["runs"]
    one, two = run["one_worker"]["test_accuracy"], run["two_workers"]["test_accuracy"]
    assert 0.0 <= one <= 1.0 and 0.0 <= two <= 1.0 and run["two_workers"]["wall_seconds"] > 0
    assert part["difference"]["mean"] == pytest.approx(two - one, abs=1e-6)
    assert part["within_goal"] == (abs(two - one) <= scale_out.GOAL) and result["overrides"] == tiny
    assert scale_out_row("cnn_mnist", part, result["date"]).startswith("| `cnn_mnist` (scale-out) | `test_accuracy`")


def test_an_engine_that_fails_is_one_line_naming_the_bench_and_the_engine(monkeypatch, capsys) -> None:
    import bench.__main__ as bench_main
    from bench.timing import WorkerError

    def failing(*_args):
        raise WorkerError("engine pytorch: generate: RuntimeError: out of memory", "Traceback (most recent ...)")

    monkeypatch.setattr(bench_main, "bench_one", failing)
    with pytest.raises(SystemExit) as stopped:
        bench_main.main(["lstm"])  # a bench that needs no extra (the suite runs without torch)
    assert stopped.value.code == 1
    assert capsys.readouterr().err == "python -m bench: lstm: engine pytorch: generate: RuntimeError: out of memory\n"
