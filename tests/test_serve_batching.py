"""zoo/serve/batching.py: how concurrent requests are merged when the batcher has more than one thread."""

from __future__ import annotations

import threading

import numpy as np

from zoo.serve.batching import Batcher, BatchingOptions


def requests_at_once(batcher: Batcher, values: list[float], answers: dict[int, list[float]]) -> list[threading.Thread]:
    """One thread per value, each sending a one-row request; started, not joined."""
    def call(i: int, x: float) -> None:
        answers[i] = batcher.run("s", {"x": np.array([x], np.float32)}, ("y",))["y"].tolist()

    threads = [threading.Thread(target=call, args=(i, x)) for i, x in enumerate(values)]
    for thread in threads:
        thread.start()
    return threads


def test_requests_arriving_together_fill_one_batch_even_with_two_threads() -> None:
    """Both threads waiting for work used to open a batch each and split the requests between them (t5 batches of
    6 rows for 16 clients); one batch is filled at a time now."""
    runs: list[int] = []

    def run(signature, feeds, fetches):
        runs.append(len(feeds["x"]))
        return {"y": feeds["x"] * 2}

    batcher = Batcher(run, BatchingOptions(max_batch_size=8, timeout_seconds=1.0, num_threads=2))
    answers: dict[int, list[float]] = {}
    try:
        for thread in requests_at_once(batcher, [float(i) for i in range(8)], answers):
            thread.join(timeout=30)
    finally:
        batcher.close()
    assert runs == [8]
    assert answers == {i: [2.0 * i] for i in range(8)}


def test_the_next_batch_fills_and_runs_while_one_is_still_running() -> None:
    release_first = threading.Event()
    runs: list[list[float]] = []

    def run(signature, feeds, fetches):
        runs.append(feeds["x"].tolist())
        if feeds["x"][0] == 0.0:
            assert release_first.wait(timeout=30)
        return {"y": feeds["x"] * 2}

    batcher = Batcher(run, BatchingOptions(max_batch_size=2, timeout_seconds=1.0, num_threads=2))
    answers: dict[int, list[float]] = {}
    try:
        first = requests_at_once(batcher, [0.0, 1.0], answers)
        while not runs:  # the first batch is running (and blocked)
            threading.Event().wait(0.01)
        second = requests_at_once(batcher, [5.0, 6.0], {})
        for thread in second:
            thread.join(timeout=30)
        assert not answers and sorted(runs[1]) == [5.0, 6.0]  # answered while the first still runs
        release_first.set()
        for thread in first:
            thread.join(timeout=30)
    finally:
        release_first.set()
        batcher.close()
    assert answers == {0: [0.0], 1: [2.0]}
