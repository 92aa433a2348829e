"""``python -m bench generate`` on a tiny checkpoint: the export and PyTorch each in a worker process of its own
(bench/timing.py; its own tests: tests/test_bench_timing.py). Structure and sanity only: the figures are the full
run's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import generate
from bench.common import BenchRecord, missing_modules

FIXTURE = Path(__file__).parent / "fixtures" / "hf_t5" / "t5_relu_tied"
ROUNDS = 2


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_modules(generate.REQUIRES)), reason="needs the bench extra (torch)")
def test_generate_bench_times_the_export_against_pytorch_each_in_a_process_of_its_own(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    monkeypatch.setattr(generate, "WARM_UP_CALLS", 1)
    checkpoint = Path(shutil.copytree(FIXTURE, tmp_path / "checkpoint"))
    record = BenchRecord("generate", tmp_path / "results")
    generate.run(record, [0], checkpoint=checkpoint, rounds=ROUNDS)
    saved = json.loads(record.path.read_text())
    assert len(saved["setup"]["inputs"]) == generate.BATCH
    assert saved["matmul"]["float32"]["gflops"] > 0 and saved["matmul"]["bfloat16"]["gflops"] > 0
    for mode in generate.MODES:
        figures = saved[mode]
        for engine in ("zoo_export", "pytorch"):
            seconds = figures["seconds"][engine]
            assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
            assert figures["sequences_per_second"][engine] > 0 and figures["generated_tokens_per_second"][engine] > 0
            assert 1 <= figures["mean_generated_length"][engine] <= generate.NEW_TOKENS
        ratio = figures["ratio_zoo_export_vs_pytorch"]
        assert ratio["sequences_per_second"] > 0 and ratio["generated_tokens_per_second"] > 0
        assert figures["goal_met"] == (ratio["generated_tokens_per_second"] >= generate.GOAL)
    for deterministic in ("greedy", "beam_search"):
        figures = saved[deterministic]
        assert figures["rows"] == generate.BATCH and 0 <= figures["rows_equal_pytorch"] <= figures["rows"]
    assert "rows" not in saved["top_p_sampling"]
    processes = saved["processes"]
    assert processes["zoo_export"]["libraries_loaded"] == ["tensorflow"] and "tensorflow" in processes["zoo_export"]
    assert processes["pytorch"]["libraries_loaded"] == ["torch"] and processes["pytorch"]["torch"]["num_threads"] >= 1
