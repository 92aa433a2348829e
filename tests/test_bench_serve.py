"""bench/serve_bench.py and bench/serve_load.py: ``zoo.serve`` (REST, gRPC, with and without batching) against the
SavedModel called in-process, the servers, the clients and the in-process callers each a process of its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.common import BenchRecord
from bench.serve_bench import measure, modes
from bench.serve_load import request_rows
from bench.timing import WorkerError
from serve_support import export_half_plus_two
from zoo_subprocess import REPO, run_python

TEXTS = ["The central bank raised rates again.", "A late goal won the cup final.", "New phones went on sale."]


@pytest.fixture
def bert_base(tmp_path: Path, tiny_exports) -> Path:
    """A model base holding only the tiny bert export (a server loads every model it finds)."""
    export_dir, _ = tiny_exports
    base = tmp_path / "models"
    base.mkdir()
    (base / "bert").symlink_to(export_dir / "bert", target_is_directory=True)
    return base


def test_every_mode_sends_the_texts_and_each_side_runs_in_a_process_of_its_own(tmp_path: Path, bert_base) -> None:
    record = BenchRecord("serve", tmp_path / "results")
    measure(record, bert_base, {"bert": TEXTS}, {"bert": 0.5}, concurrency=2, rounds=2, warm_up_seconds=0.2)
    saved = json.loads(record.path.read_text())

    assert saved["requests"] == {"bert": len(TEXTS)}
    table = saved["results"]["bert"]
    assert list(table) == modes(2) == ["in-process, batches of 2", "in-process, 2 callers", "REST", "gRPC",
                                       "REST + batching", "gRPC + batching"]
    for figures in table.values():
        rate = figures["rows_per_second"]
        assert len(rate["rounds"]) == 2 and rate["min"] > 0 and rate["min"] <= rate["median"] <= rate["max"]
        assert figures["calls"] >= 2 and 0 < figures["p50_ms"]["median"] <= figures["p99_ms"]["median"]
    assert table["in-process, batches of 2"]["ratio_vs_in_process"] == 1.0
    assert list(saved["goals"]) == ["bert: gRPC + batching >= 0.9 x in-process, batches of 2"]

    processes = saved["processes"]
    assert set(processes) == {"clients", "in-process bert", "zoo.serve", "zoo.serve + batching"}
    pids = {described["pid"] for described in processes.values()}
    assert len(pids) == 4 and os.getpid() not in pids
    assert processes["in-process bert"]["libraries_loaded"] == ["tensorflow"]
    assert "--enable-batching" in processes["zoo.serve + batching"]["argv"]
    assert "--enable-batching" not in processes["zoo.serve"]["argv"]


def test_requests_are_the_texts_in_the_string_input_or_else_the_warmup_rows(tmp_path: Path, bert_base) -> None:
    version = bert_base / "bert" / "1"
    rows = request_rows(version, "serving_default", TEXTS)
    assert rows["signature"] == "serving_default"
    assert [column["rows"] for column in rows["inputs"].values() if column["dtype"] == "string"] == [TEXTS]
    warmup = request_rows(version, "serving_default")
    assert all(len(column["rows"]) >= 1 for column in warmup["inputs"].values())

    half_plus_two = export_half_plus_two(tmp_path / "numbers").path
    with pytest.raises(ValueError, match="one string input; serving_default has none"):
        request_rows(half_plus_two, "serving_default", TEXTS)
    with pytest.raises(ValueError, match="no predict warmup request for nothing_here"):
        request_rows(half_plus_two, "nothing_here")


def test_a_failing_side_is_one_line_naming_it(tmp_path: Path) -> None:
    export_half_plus_two(tmp_path / "models")
    with pytest.raises(WorkerError, match=r"^engine in-process half_plus_two: requests: ValueError: texts need"):
        measure(BenchRecord("serve", tmp_path / "results"), tmp_path / "models", {"half_plus_two": TEXTS},
                {"half_plus_two": 0.2}, concurrency=2, rounds=1, warm_up_seconds=0.1)
    assert not (tmp_path / "results" / "serve.json").exists()


def test_the_command_serves_a_model_base_and_prints_the_table(tmp_path: Path) -> None:
    export_half_plus_two(tmp_path / "models")
    done = run_python(["-m", "bench.serve_bench", "--model-base", str(tmp_path / "models"), "--model",
                       "half_plus_two", "--seconds", "0.3", "--rounds", "1", "--concurrency", "2", "--results-dir",
                       str(tmp_path / "results")], cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "half_plus_two: mode" in done.stdout and "gRPC + batching" in done.stdout
    saved = json.loads((tmp_path / "results" / "serve.json").read_text())
    assert list(saved["results"]["half_plus_two"]) == modes(2)

    missing = run_python(["-m", "bench.serve_bench", "--model-base", str(tmp_path / "models"), "--model", "absent",
                          "--results-dir", str(tmp_path / "absent-results")], cwd=REPO, timeout=120)
    assert missing.returncode == 1 and missing.stderr.strip().splitlines() == [
        f"no versions under {tmp_path / 'models' / 'absent'}: export one first (python -m zoo.run absent)"]
    (tmp_path / "a-file").write_text("not a model base")
    a_file = run_python(["-m", "bench.serve_bench", "--model-base", str(tmp_path / "a-file"), "--model",
                         "half_plus_two", "--results-dir", str(tmp_path / "absent-results")], cwd=REPO, timeout=120)
    assert a_file.returncode == 1 and len(a_file.stderr.strip().splitlines()) == 1, a_file.stderr
    usage = run_python(["-m", "bench.serve_bench", "--model", "x", "--seconds", "0"], cwd=REPO, timeout=120)
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "absent-results").exists()
