"""``python -m bench generate`` on a tiny checkpoint, and the speed protocol it runs on (bench/timing.py): engines in
worker processes of their own, alternating rounds. Structure and sanity only: the figures are the full run's."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from bench import generate, timing
from bench.common import BenchRecord, missing_modules

FIXTURE = Path(__file__).parent / "fixtures" / "hf_t5" / "t5_relu_tied"
ROUNDS = 2
# A worker of two handlers, echo and fail, whose loading prints to stdout as libraries may.
TOY_WORKER = ("from bench.timing import serve\n"
              "def fail(): raise ValueError('no such thing')\n"
              "def load():\n"
              "    print('a library loading')\n"
              "    return {'echo': lambda value: value, 'fail': fail}\n"
              "serve(load)")


def test_workers_answer_timed_rounds_and_their_failures_carry_their_reason() -> None:
    with timing.Worker([sys.executable, "-c", TOY_WORKER]) as first, \
            timing.Worker([sys.executable, "-c", TOY_WORKER]) as second:
        timed = timing.alternating_rounds({"first": first, "second": second}, "echo", {"value": [1, "a"]}, rounds=3)
        assert {name: (len(t.seconds), t.last) for name, t in timed.items()} == {"first": (3, [1, "a"]),
                                                                               "second": (3, [1, "a"])}
        with pytest.raises(timing.WorkerError, match="fail: ValueError: no such thing"):
            first.call("fail")
        assert second.call("process").value["libraries_loaded"] == []  # neither TensorFlow nor torch
    figures = timing.spread(timed["first"].seconds)
    assert figures["min"] <= figures["median"] <= figures["max"] and len(figures["rounds"]) == 3
    with timing.Worker([sys.executable, "-c", "import sys; sys.exit(3)"]) as dead:
        with pytest.raises(timing.WorkerError):
            dead.call("echo", value=1)


@pytest.mark.slow
@pytest.mark.skipif(bool(missing_modules(generate.REQUIRES)), reason="needs the bench extra (torch)")
def test_generate_bench_times_the_export_against_pytorch_each_in_a_process_of_its_own(tmp_path: Path,
                                                                                     monkeypatch) -> None:
    monkeypatch.setattr(generate, "WARM_UP_CALLS", 1)
    checkpoint = Path(shutil.copytree(FIXTURE, tmp_path / "checkpoint"))
    record = BenchRecord("generate", tmp_path / "results")
    generate.run(record, [0], checkpoint=checkpoint, rounds=ROUNDS)
    saved = json.loads(record.path.read_text())
    assert len(saved["setup"]["inputs"]) == generate.BATCH and saved["matmul"]["gflops"] > 0
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
    beam = saved["beam_search"]
    assert beam["rows"] == generate.BATCH and 0 <= beam["rows_equal_pytorch"] <= beam["rows"]
    processes = saved["processes"]
    assert processes["zoo_export"]["libraries_loaded"] == ["tensorflow"] and "tensorflow" in processes["zoo_export"]
    assert processes["pytorch"]["libraries_loaded"] == ["torch"] and processes["pytorch"]["torch"]["num_threads"] >= 1
