"""``python -m zoo.launch``: N local workers under MultiWorkerMirroredStrategy, supervised."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from zoo.launch import Worker, align_backups, launch, main as launch_main, supervise, worker_commands
from zoo.run_files import MANIFEST, METADATA, WEIGHTS, saved_epoch, worker_run_dir
from zoo_subprocess import TINY, assert_serves_digits, env_with, only_version, run_python


@pytest.mark.slow
def test_two_workers_train_and_only_the_chief_publishes(tmp_path):
    run = run_python(["-m", "zoo.launch", "--workers", "2", "--timeout", "300", "cnn_mnist", *TINY,
                      "--export-dir", str(tmp_path / "export"), "--run-dir", str(tmp_path / "run")],
                     cwd=tmp_path, timeout=360)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    # the chief shows its progress and summary; worker 1 only its warnings and errors, the rest in its log file
    log = tmp_path / "run" / "worker-1" / "output.log"
    assert f"zoo.launch: worker 1 writes its full output to {log}; only its warnings and errors" in run.stdout
    assert "[worker 0] cnn_mnist: 256 training examples" in run.stdout
    assert "[worker 0]   exported" in run.stdout
    assert not [line for line in run.stdout.splitlines()
                if line.startswith("[worker 1]") and not line.startswith("[worker 1] WARNING")], run.stdout[-3000:]
    assert "cnn_mnist: 256 training examples" in log.read_text()
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


@pytest.mark.parametrize("launch_args, message", [
    (["--cluster", "127.0.0.1:1,127.0.0.1:2", "--index", "2"], "--index 2 is out of range: --cluster lists 2 workers"),
    (["--cluster", "127.0.0.1:1,127.0.0.1:2", "--index", "-1"], "--index -1 is out of range"),
    (["--cluster", "127.0.0.1:1,127.0.0.1"], "--cluster: '127.0.0.1' is not HOST:PORT"),
    (["--cluster", "a:1,b:99999", "--index", "0"], "--cluster: 'b:99999' is not HOST:PORT"),
    (["--cluster", "a:1,:2", "--index", "0"], "--cluster: ':2' is not HOST:PORT"),
    (["--cluster", "a:1,a:1", "--index", "0"], "--cluster names a:1 more than once"),
    (["--cluster", "a:1,b:1"], "--cluster needs --index I"),
    (["--cluster", "a:1,b:1", "--index", "0", "--workers", "2"], "not both"),
    (["--workers", "2", "--index", "0"], "--index goes with --cluster"),
    ([], "give --workers N, or --cluster"),
    (["--workers", "2", "--max-restarts", "-1"], "--max-restarts must be 0 or more"),
    (["--cluster", "a:1,b:1", "--index", "1", "--max-restarts", "1"], "--max-restarts goes with --workers"),
])
def test_launcher_usage_errors_are_one_line_before_anything_starts(tmp_path, capsys, launch_args, message):
    assert launch_main([*launch_args, "cnn_mnist", "--export-dir", str(tmp_path / "export"),
                        "--run-dir", str(tmp_path / "run")]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("zoo.launch: error: ") and message in err and err.count("\n") == 1, err
    assert out == "" and not (tmp_path / "export").exists() and not (tmp_path / "run").exists()


def test_the_worker_run_dir_is_the_one_the_worker_itself_uses(monkeypatch):
    from zoo.distribute import worker_dir

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1", "c:1"]}}))
    for index in range(3):
        strategy = SimpleNamespace(cluster_resolver=SimpleNamespace(task_type="worker", task_id=index))
        assert worker_run_dir("runs/x", index) == worker_dir("runs/x", strategy)
    # A cluster with a chief task (as some orchestrators write TF_CONFIG): worker 0 is not the chief.
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}}))
    worker_0 = SimpleNamespace(cluster_resolver=SimpleNamespace(task_type="worker", task_id=0))
    chief = SimpleNamespace(cluster_resolver=SimpleNamespace(task_type="chief", task_id=0))
    assert (worker_dir("runs/x", worker_0), worker_dir("runs/x", chief)) == (Path("runs/x/worker-0"), Path("runs/x"))


def _backup(directory: Path, epoch: int, weights: bytes, suffix: str = "") -> None:
    """A backup as zoo.backup.VerifiedBackupAndRestore leaves it: its record names the pair written last."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / (WEIGHTS + suffix)).write_bytes(weights)
    (directory / (METADATA + suffix)).write_text(json.dumps({"epoch": epoch, "batch": -1}))
    record = {name: hashlib.sha256((directory / (name + suffix)).read_bytes()).hexdigest()
              for name in (WEIGHTS, METADATA)}
    (directory / MANIFEST).write_text(json.dumps(record))


def test_aligned_backups_give_every_worker_the_newest_finished_epoch(tmp_path):
    chief, behind, killed_mid_save, missing = (tmp_path / name for name in ("chief", "behind", "mid", "missing"))
    _backup(chief, 2, b"weights after epoch 2")
    _backup(behind, 1, b"weights after epoch 1")
    _backup(killed_mid_save, 1, b"weights after epoch 1", suffix=".bkp")  # the record names the previous pair
    (killed_mid_save / WEIGHTS).write_bytes(b"half a checkpoint")
    assert saved_epoch(killed_mid_save) == 1 and saved_epoch(missing) is None

    assert align_backups([chief, behind, killed_mid_save, missing]) == (2, chief)
    for directory in (chief, behind, killed_mid_save, missing):
        assert saved_epoch(directory) == 2
        assert (directory / WEIGHTS).read_bytes() == b"weights after epoch 2"
    assert align_backups([tmp_path / "none-a", tmp_path / "none-b"]) is None


def test_an_aligned_backup_is_one_the_workers_resume_from(tmp_path):
    from zoo.backup import VerifiedBackupAndRestore

    _backup(tmp_path / "chief", 3, b"weights")
    align_backups([tmp_path / "chief", tmp_path / "worker-1"])
    VerifiedBackupAndRestore(str(tmp_path / "worker-1"))._keep_only_what_was_written()  # discards what fails
    assert json.loads((tmp_path / "worker-1" / METADATA).read_text())["epoch"] == 3


def _worker(index: int, code: str, log: Path | None = None) -> Worker:
    argv, env = _python(code)
    return Worker(index, argv, env, log)


def test_a_restart_starts_every_worker_again_and_says_from_where(tmp_path, capsys):
    mark = tmp_path / "died-once"
    backups = [tmp_path / "backup-0", tmp_path / "backup-1"]
    _backup(backups[0], 1, b"weights after epoch 1")
    die_once = (f"import pathlib, sys; print('Epoch 2/3', flush=True); m = pathlib.Path({str(mark)!r})\n"
                "if not m.exists(): m.touch(); sys.exit(3)\nprint('done', flush=True)")
    starts = []

    def workers():
        starts.append(1)
        return [_worker(0, "print('Epoch 2/3', flush=True); print('chief done', flush=True)"), _worker(1, die_once)]

    assert launch(workers, timeout=60, max_restarts=2, backups=backups) == 0
    out, err = capsys.readouterr()
    assert len(starts) == 2 and out.count("[worker 0] chief done") == 2
    assert err.splitlines() == [
        "zoo.launch: worker 1 exited with status 3 during epoch 2/3; stopped the other workers",
        f"zoo.launch: restarting all 2 workers (restart 1 of 2), resuming from the backup after epoch 1 of 3 "
        f"({backups[0]})",
        "zoo.launch: restart 1 of 2: training resumed at epoch 2/3",
    ]
    assert saved_epoch(backups[1]) == 1  # worker 1 was given the chief's backup before the restart


def test_when_the_restarts_are_used_up_the_launcher_fails_naming_the_worker(capsys):
    started = time.monotonic()
    status = launch(lambda: [_worker(0, "import time; time.sleep(120)"), _worker(1, "import sys; sys.exit(3)")],
                    timeout=60, max_restarts=1)
    assert status == 1 and time.monotonic() - started < 30
    err = capsys.readouterr().err.splitlines()
    assert err == ["zoo.launch: worker 1 exited with status 3; stopped the other workers",
                   "zoo.launch: restarting all 2 workers (restart 1 of 1), starting over: no worker has a finished "
                   "epoch backed up",
                   "zoo.launch: worker 1 exited with status 3; stopped the other workers",
                   "zoo.launch: error: no restarts left (1 of 1 used)"]


def test_a_worker_usage_error_is_not_restarted(capsys):
    starts = []
    status = launch(lambda: starts.append(1) or [_worker(0, "import sys; sys.exit(2)")], timeout=60, max_restarts=3)
    assert status == 2 and len(starts) == 1
    assert capsys.readouterr().err.splitlines()[-1] == "zoo.launch: not restarting after a usage error"


def test_a_non_chief_shows_only_its_stderr_and_logs_everything(tmp_path, capsys):
    log = tmp_path / "run" / "worker-1" / "output.log"
    chatty = ("import sys; print('Epoch 1/1', flush=True); print('WARNING: odd', file=sys.stderr, flush=True); "
              "print('summary', flush=True)")
    assert launch(lambda: [_worker(0, chatty), _worker(1, chatty, log)], timeout=60) == 0
    out = capsys.readouterr().out.splitlines()
    assert sorted(line for line in out if line.startswith("[worker 1]")) == ["[worker 1] WARNING: odd"]
    assert {"[worker 0] Epoch 1/1", "[worker 0] WARNING: odd", "[worker 0] summary"} <= set(out)
    assert {"Epoch 1/1", "WARNING: odd", "summary"} <= set(log.read_text().splitlines())
