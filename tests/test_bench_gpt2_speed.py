"""``python -m bench gpt2_speed`` on a tiny GPT-2 (GPT-2-small's vocabulary and positions, 2 layers 32 wide): parity
with PyTorch holds, and every engine (the export in float32 and bfloat16, CTranslate2 in float32 and int8, PyTorch
with and without its cache) is timed in a process of its own. Structure and sanity only: the figures are
the full run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import gpt2_speed
from bench.common import BenchRecord, missing_modules

TINY = dict(n_embd=32, n_layer=2, n_head=4)
ROUNDS = 1
ENGINES = ("zoo_export", "zoo_bfloat16", "ctranslate2_float32", "ctranslate2_int8", "pytorch", "pytorch_no_cache")


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_modules(gpt2_speed.REQUIRES)), reason="needs the bench extra (torch)")
def test_gpt2_speed_bench_checks_parity_then_times_the_export_against_pytorch_with_and_without_its_cache(
        tmp_path: Path) -> None:
    record = BenchRecord("gpt2_speed", tmp_path / "results")
    gpt2_speed.run(record, [0], shape=TINY, rounds=ROUNDS)
    saved = json.loads(record.path.read_text())
    assert len(saved["setup"]["inputs"]) == gpt2_speed.BATCH
    assert saved["matmul"]["float32"]["gflops"] > 0 and saved["matmul"]["bfloat16"]["gflops"] > 0
    assert saved["tokenizer"]["learned_tokens"] < saved["tokenizer"]["padded_to"] == gpt2_speed.GPT2_SMALL["vocab_size"]
    parity = saved["parity"]
    assert parity["logits"]["token_ids_equal"] and len(set(parity["logits"]["prompt_tokens"])) == gpt2_speed.BATCH
    assert parity["logits"]["max_relative_logit_difference"] <= gpt2_speed.TOLERANCE
    assert parity["greedy"]["rows_equal"] == parity["greedy"]["rows"] == gpt2_speed.BATCH
    assert parity["score"]["num_tokens_equal"] and parity["score"]["max_relative_difference"] <= gpt2_speed.TOLERANCE
    assert all(parity[part]["passed"] for part in ("logits", "greedy", "score"))
    greedy = saved["greedy"]
    for engine in ENGINES:
        seconds = greedy["seconds"][engine]
        assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
        assert greedy["sequences_per_second"][engine] > 0 and greedy["generated_tokens_per_second"][engine] > 0
        assert 1 <= greedy["mean_generated_length"][engine] <= gpt2_speed.NEW_TOKENS
    for engine in ("zoo_export", "pytorch_no_cache"):  # the same greedy tokens as PyTorch's
        assert greedy["rows_equal_pytorch"][engine] == greedy["rows"] == gpt2_speed.BATCH
    # another engine's rounding may flip a near tie of the random model, and the row goes on from there
    assert all(0 <= greedy["rows_equal_pytorch"][engine] <= gpt2_speed.BATCH for engine in ENGINES[1:4])
    assert 0.5 <= greedy["bfloat16_token_agreement"] <= 1.0
    ratios = {**greedy["ratio_vs_pytorch"],
              "zoo_export vs pytorch_no_cache": greedy["ratio_zoo_export_vs_pytorch_no_cache"]}
    assert set(ratios) == {*ENGINES, "zoo_export vs pytorch_no_cache"} - {"pytorch"}
    assert all(ratio["sequences_per_second"] > 0 and ratio["generated_tokens_per_second"] > 0
               for ratio in ratios.values())
    low = greedy["ratio_vs_pytorch"]["zoo_bfloat16"]["generated_tokens_per_second"]
    assert greedy["goal_met"] == (low >= gpt2_speed.GOAL and
                                  low > greedy["ratio_vs_pytorch"]["ctranslate2_int8"]["generated_tokens_per_second"])
    processes = saved["processes"]
    libraries = {"zoo_export": "tensorflow", "zoo_bfloat16": "tensorflow", "ctranslate2_float32": "ctranslate2",
                 "ctranslate2_int8": "ctranslate2", "pytorch": "torch", "pytorch_no_cache": "torch"}
    assert {engine: processes[engine]["libraries_loaded"] for engine in ENGINES} == {
        engine: [library] for engine, library in libraries.items()}
