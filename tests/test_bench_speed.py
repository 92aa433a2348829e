"""``python -m bench speed`` on a few texts: MiniLM in PyTorch, in ONNX Runtime (float32 and int8, converted in a
process of its own) and the bert recipe's exports (float32, and a tiny fine-tuned bfloat16 run), every engine in a
worker process of its own, each library alone in its process, the goals judged from what was measured. Structure and
sanity only: the figures are the full run's."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import zoo
from bench import speed, timing
from bench.common import BenchRecord, missing_modules

TEXTS = ["the cat sat on the mat", "markets fell sharply on monday after the news", "a b c", "rain again"]
LENGTH = 16
# a tiny export each; bfloat16's fine-tuned enough that the gate's class-change bound holds (tests/test_precision.py)
EXPORTS = {"zoo_float32": {"epochs": 0, "max_examples": 16, "batch_size": 8},
           "zoo_bfloat16": {**zoo.get_recipe("bert").tiny, "learning_rate": 2e-4, "epochs": 3,
                            "precision": "bfloat16"}}
ENGINES = {"pytorch": "torch", "onnxruntime_float32": "onnxruntime", "onnxruntime_int8": "onnxruntime",
           "zoo_float32": "tensorflow", "zoo_bfloat16": "tensorflow"}
pytestmark = pytest.mark.skipif(bool(missing_modules(speed.REQUIRES)), reason="needs the bench extra")


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("speed")
    speed.run(BenchRecord("speed", folder), [0], sequence_lengths=(LENGTH,), texts=TEXTS, exports=EXPORTS, rounds=2)
    return json.loads((folder / "speed.json").read_text())


@pytest.mark.slow
def test_every_engine_runs_alone_in_a_process_of_its_own(measured: dict) -> None:
    (figures,) = measured["lengths"]
    processes = figures["processes"]
    assert set(processes) == set(ENGINES)
    assert {name: process["libraries_loaded"] for name, process in processes.items()} == {
        name: [library] for name, library in ENGINES.items()}
    assert len({process["pid"] for process in processes.values()} | {os.getpid()}) == len(ENGINES) + 1


@pytest.mark.slow
def test_speed_figures_cosines_and_goals(measured: dict) -> None:
    (figures,) = measured["lengths"]
    assert figures["sequence_length"] == LENGTH and figures["texts"] == len(TEXTS)
    for call, engines in (("embed", set(ENGINES)), ("classify", set(EXPORTS))):
        timed = figures[call]
        assert set(timed["seconds"]) == engines
        for seconds in timed["seconds"].values():
            assert len(seconds["rounds"]) == 2 and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
        assert all(ratio > 0 for ratio in timed["ratio_to_pytorch"].values())
    assert figures["embed"]["ratio_to_pytorch"]["pytorch"] == 1.0
    cosines = figures["min_cosine_to_pytorch"]  # the same weights: float32 engines agree, int8 is near
    assert set(cosines) == set(ENGINES) - {"zoo_bfloat16"}  # the bfloat16 export is fine-tuned: not comparable
    assert min(cosines["onnxruntime_float32"], cosines["zoo_float32"]) > 0.9999
    assert 0.9 < cosines["onnxruntime_int8"] <= 1.0
    card = figures["zoo_bfloat16"]
    assert card["precision"]["dtype"] == "bfloat16" and 0 <= card["precision"]["class_changes"] <= 0.01
    assert 0.99 <= card["precision"]["min_embedding_cosine"] <= 1.0
    assert "test_accuracy" in card["float32_metrics"] and "test_accuracy" in card["precision"]
    assert len(measured["goals"]) == 8 and all(isinstance(met, bool) for met in measured["goals"].values())
    assert set(measured["matmul"]) == {"float32", "bfloat16"}


def test_a_checkpoint_that_cannot_be_converted_is_one_line_naming_the_engine(tmp_path: Path) -> None:
    with pytest.raises(timing.WorkerError) as raised:
        speed.onnx_models(tmp_path / "no_checkpoint", tmp_path)
    message = str(raised.value)
    assert message.startswith("engine onnxruntime: preparing its model failed: ") and "\n" not in message
    assert "no_checkpoint" in message
