"""``python -m zoo.launch``: N local workers under MultiWorkerMirroredStrategy, supervised."""

from __future__ import annotations

import json
import sys
import time

import pytest

from zoo.launch import main as launch_main, supervise, worker_commands
from zoo_subprocess import TINY, assert_serves_digits, env_with, only_version, run_python


@pytest.mark.slow
def test_two_workers_train_and_only_the_chief_publishes(tmp_path):
    run = run_python(["-m", "zoo.launch", "--workers", "2", "--timeout", "300", "cnn_mnist", *TINY,
                      "--export-dir", str(tmp_path / "export"), "--run-dir", str(tmp_path / "run")],
                     cwd=tmp_path, timeout=360)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    for worker in (0, 1):
        assert f"[worker {worker}] cnn_mnist: 256 training examples" in run.stdout
    assert "[worker 0]   exported" in run.stdout and "[worker 1]   exported" not in run.stdout
    version = only_version(tmp_path / "export", "cnn_mnist")
    assert json.loads((version / "assets.extra" / "zoo.json").read_text())["recipe"] == "cnn_mnist"
    assert_serves_digits(version)
    assert (tmp_path / "run" / "worker-1" / "logs").is_dir()  # the non-chief's logs never mix with the chief's


def _python(code: str) -> tuple[list[str], dict]:
    return [sys.executable, "-c", code], env_with()


def test_a_dying_worker_stops_the_others_and_is_named(capsys):
    started = time.monotonic()
    status = supervise([_python("import time; print('up', flush=True); time.sleep(120)"),
                        _python("import sys; print('failing', flush=True); sys.exit(3)")], timeout=60)
    assert status == 1
    assert time.monotonic() - started < 30  # the sleeper was stopped, not waited for
    out, err = capsys.readouterr()
    assert "[worker 1] failing" in out
    assert "worker 1 exited with status 3" in err


def test_a_worker_usage_error_keeps_exit_status_2(capsys):
    assert supervise([_python("import sys; sys.exit(2)")], timeout=60) == 2
    assert "worker 0 exited with status 2" in capsys.readouterr().err


def test_timeout_stops_every_worker(capsys):
    started = time.monotonic()
    assert supervise([_python("import time; time.sleep(120)")] * 2, timeout=1) == 1
    assert time.monotonic() - started < 30
    assert "timed out after 1 s" in capsys.readouterr().err


def test_each_worker_gets_its_own_task_in_one_cluster():
    commands = worker_commands(3, ["cnn_mnist", "--set", "epochs=1"])
    configs = [json.loads(env["TF_CONFIG"]) for _, env in commands]
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    cluster = configs[0]["cluster"]["worker"]
    assert len(set(cluster)) == 3 and all(c["cluster"]["worker"] == cluster for c in configs)
    assert all(argv[-2:] == ["--strategy", "multi_worker"] for argv, _ in commands)


@pytest.mark.parametrize("run_args, message", [
    (["no_such_recipe"], "unknown recipe 'no_such_recipe'"),
    (["cnn_mnist", "--set", "epochs=many"], "bad value for 'epochs'"),
    (["cnn_mnist", "--strategy", "mirrored"], "leave --strategy out"),
])
def test_usage_errors_are_caught_before_any_worker_starts(tmp_path, capsys, run_args, message):
    assert launch_main(["--workers", "2", *run_args, "--export-dir", str(tmp_path / "export")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("zoo.launch: error: ") and message in err and err.count("\n") == 1
    assert "[worker" not in out and not (tmp_path / "export").exists()
