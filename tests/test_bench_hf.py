"""``python -m bench hf``'s t5 part on a tiny shape: parity with PyTorch, then the export against PyTorch and the
cached decode against the recomputing one, every engine in a worker process of its own. Structure and sanity only:
the figures are the full run's."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest

from bench import hf, timing
from bench.common import BenchRecord, missing_modules

TINY = dict(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, feed_forward_proj="relu", tie_word_embeddings=True,
            vocab_size=512)
TEXTS = [f"summarize: text number {i} about markets and football" for i in range(8)]
ROUNDS = 1


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_modules(hf.REQUIRES)), reason="needs the bench extra (torch)")
def test_t5_part_times_every_engine_in_a_process_of_its_own(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(hf.timing, "matmul_speeds", functools.partial(timing.matmul_speeds, size=64, repeats=1))
    record = BenchRecord("hf", tmp_path / "results")
    hf.t5(record, shapes={"tiny": TINY}, texts=TEXTS, rounds=ROUNDS)
    saved = json.loads(record.path.read_text())
    assert set(saved["matmul"]) == {"float32", "bfloat16"} and saved["machine"]["cpu_flags"] is not None
    shape = saved["t5"]["tiny"]
    assert shape["logits_within_1e-4"] and shape["token_ids_equal_generate"] == {"batch_1": True, "batch_7": True}
    assert shape["texts_equal_pytorch"] == len(TEXTS)
    for part, engines, ratio in ((shape["speed"], ("zoo_export", "pytorch"), "ratio_zoo_export_vs_pytorch"),
                                 (shape["decode_cache"], ("cached", "recomputing"), "speedup_cached_vs_recomputing")):
        assert part[ratio] > 0 and part["inputs"] == len(TEXTS)
        for engine in engines:
            seconds = part["seconds"][engine]
            assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
            assert part["texts_per_second"][engine] > 0 and part["achieved_gflops"][engine] > 0
        assert part["machine_matmul_gflops"] == {dtype: saved["matmul"][dtype]["gflops"] for dtype in saved["matmul"]}
        pids = {part["processes"][engine]["pid"] for engine in engines}
        assert len(pids | {os.getpid()}) == 3
    assert shape["decode_cache"]["token_ids_equal"]
    speed, cache = shape["speed"]["processes"], shape["decode_cache"]["processes"]
    assert speed["zoo_export"]["libraries_loaded"] == ["tensorflow"] and speed["pytorch"]["libraries_loaded"] == ["torch"]
    assert all(process["libraries_loaded"] == ["tensorflow"] for process in cache.values())
