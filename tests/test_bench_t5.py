"""``python -m bench t5``'s speed part on a tiny t5 run: the export's ``serving_default`` and the trained model's eager
KerasHub generation (loaded from what the parent kept on disk) each in a worker process of its own
(bench/timing.py, whose own tests cover a failing engine's one line). Structure and sanity only: the figures are the
full run's."""

from __future__ import annotations

import os

import pytest

import zoo
from bench import t5
from bench.common import run_recipe

ROUNDS = 2
ENGINES = ("export", "keras_hub")


@pytest.mark.slow
def test_speed_times_the_export_and_eager_keras_hub_each_in_a_process_of_its_own() -> None:
    figures = t5.speed(run_recipe("t5", **zoo.get_recipe("t5").tiny), rounds=ROUNDS)
    processes = figures["processes"]
    assert set(processes) == set(ENGINES)
    assert len({processes[engine]["pid"] for engine in ENGINES} | {os.getpid()}) == 3
    assert "keras_hub" in processes["keras_hub"]["versions"] and "tensorflow" in processes["export"]["versions"]
    for engine in ENGINES:
        seconds = figures["seconds"][engine]
        assert len(seconds["rounds"]) == ROUNDS and 0 < seconds["min"] <= seconds["median"] <= seconds["max"]
    assert figures["batch"] == t5.BATCH and figures["rounds"] == ROUNDS
    assert figures["exported_texts_per_second"] > 0 and figures["eager_keras_hub_texts_per_second"] > 0
    assert figures["exported_vs_eager_keras_hub_generation"] > 0
    assert figures["outputs_equal"] == t5.BATCH  # the same trained model on both sides
