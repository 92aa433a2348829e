"""``python -m bench generate`` on a tiny checkpoint: the export (float32 and bfloat16), CTranslate2 (float32 and int8)
and PyTorch each in a worker process of its own (bench/timing.py; its own tests: tests/test_bench_timing.py).
Structure and sanity only: the figures are the full run's."""

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
    engines = ("zoo_export", "zoo_bfloat16", "ctranslate2_float32", "ctranslate2_int8", "pytorch")
    for mode in generate.MODES:
        figures = saved[mode]
        for engine in engines:
            seconds = figures["seconds"][engine]
            assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
            assert figures["sequences_per_second"][engine] > 0 and figures["generated_tokens_per_second"][engine] > 0
            assert 1 <= figures["mean_generated_length"][engine] <= generate.NEW_TOKENS
        ratios = figures["ratio_vs_pytorch"]
        assert set(ratios) == set(engines) - {"pytorch"}
        assert all(ratio["sequences_per_second"] > 0 and ratio["generated_tokens_per_second"] > 0
                   for ratio in ratios.values())
        low = ratios["zoo_bfloat16"]["generated_tokens_per_second"]
        assert figures["goal_met"] == (low >= generate.GOAL
                                       and low > ratios["ctranslate2_int8"]["generated_tokens_per_second"])
    for deterministic in ("greedy", "beam_search"):
        figures = saved[deterministic]
        assert figures["rows"] == generate.BATCH
        assert figures["rows_equal_pytorch"]["zoo_export"] == figures["rows"]  # float32: PyTorch's tokens
        # another engine's float32 products round differently: a random model's near ties go either way (1 of 8
        # greedy rows of CTranslate2 float32 took id 501 for PyTorch's 498 at the 17th token, once)
        assert all(0 <= figures["rows_equal_pytorch"][name] <= figures["rows"] for name in generate.CTRANSLATE2)
        assert 0.5 <= figures["bfloat16_token_agreement"] <= 1.0
    assert "rows" not in saved["top_p_sampling"]
    processes = saved["processes"]
    for engine, library in (("zoo_export", "tensorflow"), ("zoo_bfloat16", "tensorflow"), ("pytorch", "torch")):
        assert processes[engine]["libraries_loaded"] == [library] and library in processes[engine]
    for engine in generate.CTRANSLATE2:  # neither TensorFlow nor torch; threads asleep between calls
        assert processes[engine]["libraries_loaded"] == ["ctranslate2"]
        assert processes[engine]["environment"]["OMP_WAIT_POLICY"] == "PASSIVE"
