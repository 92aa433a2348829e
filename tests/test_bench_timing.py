"""The speed protocol every speed ratio in bench/ runs on (bench/timing.py): each engine in a worker process of its
own, alternating rounds, a failing engine named in one line, and the machine described beside the timings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench import timing

# A worker of two handlers, echo and fail, whose loading prints to stdout as libraries may.
TOY_WORKER = ("from bench.timing import serve\n"
              "def fail(): raise ValueError('no such thing\\nsecond line')\n"
              "def load():\n"
              "    print('a library loading')\n"
              "    return {'echo': lambda value: value, 'fail': fail}\n"
              "serve(load)")
# A worker whose model cannot be loaded.
BROKEN_WORKER = ("from bench.timing import serve\n"
                 "def load(): raise FileNotFoundError('no checkpoint at /nowhere')\n"
                 "serve(load)")


def toy(name: str, program: str = TOY_WORKER) -> timing.Worker:
    return timing.Worker([sys.executable, "-c", program], name)


def test_workers_answer_alternating_rounds_each_in_a_process_of_its_own() -> None:
    with toy("first") as first, toy("second") as second:
        timed = timing.alternating_rounds({"first": first, "second": second}, "echo", {"value": [1, "a"]}, rounds=3)
        described = timing.processes({"first": first, "second": second})
    assert {name: (len(t.seconds), t.last) for name, t in timed.items()} == {"first": (3, [1, "a"]),
                                                                           "second": (3, [1, "a"])}
    pids = {name: process["pid"] for name, process in described.items()}
    assert len({*pids.values(), os.getpid()}) == 3  # two workers, neither of them this process
    assert all(process["libraries_loaded"] == [] for process in described.values())  # neither TensorFlow nor torch
    figures = timing.spread(timed["first"].seconds)
    assert figures["min"] <= figures["median"] <= figures["max"] and len(figures["rounds"]) == 3


@pytest.mark.parametrize("program, call, message, traceback", [
    (TOY_WORKER, ("fail", {}), "engine pytorch: fail: ValueError: no such thing", True),
    (BROKEN_WORKER, ("echo", {"value": 1}),
     "engine pytorch: echo: the worker exited with status 1: FileNotFoundError: no checkpoint at /nowhere", True),
    ("import sys; sys.exit(3)", ("echo", {"value": 1}), "engine pytorch: echo: the worker exited with status 3", False),
])
def test_a_failing_engine_is_one_line_that_names_it_not_a_traceback(program: str, call: tuple[str, dict],
                                                                    message: str, traceback: bool) -> None:
    handler, arguments = call
    with toy("pytorch", program) as engine:
        with pytest.raises(timing.WorkerError) as raised:
            engine.call(handler, **arguments)
    assert str(raised.value) == message
    assert ("Traceback" in raised.value.stderr) == traceback  # the worker's traceback rides along, out of the message


def test_the_cpu_is_described_by_model_and_flags_and_unknown_where_there_is_no_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 fma avx512f amx_tile amx_fp16\n"
                       "\nprocessor\t: 1\nmodel name\t: Some Xeon\nflags\t\t: fpu\n")
    cpu = timing.cpu_description(cpuinfo)
    assert cpu["model"] == "Some Xeon"
    assert [flag for flag, present in cpu["flags"].items() if present] == ["avx2", "fma", "avx512f", "amx_tile",
                                                                          "amx_fp16"]
    assert set(timing.CPU_FLAGS) <= set(cpu["flags"])  # the absent ones said absent
    missing = timing.cpu_description(tmp_path / "no_such_file")
    assert missing["flags"] is None and isinstance(missing["model"], str)


def test_matmul_speed_is_measured_in_float32_and_bfloat16_each_in_a_process_of_its_own() -> None:
    speeds = timing.matmul_speeds(size=64, repeats=2)
    assert list(speeds) == ["float32", "bfloat16"]
    for dtype, figures in speeds.items():
        assert figures["dtype"] == dtype and figures["library"] == "tensorflow"
        assert 0 < figures["gflops_min"] <= figures["gflops"] <= figures["gflops_max"]
        assert figures["process"]["libraries_loaded"] == ["tensorflow"]
    assert len({figures["process"]["pid"] for figures in speeds.values()} | {os.getpid()}) == 3
