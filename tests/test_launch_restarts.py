"""``python -m zoo.launch`` on real workers: a killed worker restarted with ``--max-restarts``, and a cluster of two
"hosts" started as two separate ``--cluster``/``--index`` commands."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from zoo.launch import free_ports
from zoo_subprocess import PYTHON, TINY, env_with, launched_workers, launcher_cleaned_up, only_version

TINY_2_WORKERS = ["cnn_mnist", *TINY]
SECONDS = 300  # the launcher's own --timeout; the tests wait a minute longer at most


def _wait_for(condition, process: subprocess.Popen, what: str, seconds: float = SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the launcher ended ({process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_training_resumes_from_the_last_epoch(tmp_path):
    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    out_path, err_path = tmp_path / "launcher.out", tmp_path / "launcher.err"
    launch = [PYTHON, "-m", "zoo.launch", "--workers", "2", "--max-restarts", "1", "--timeout", str(SECONDS),
              *TINY_2_WORKERS, "--set", "epochs=3", "--export-dir", str(exports), "--run-dir", str(run_dir)]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        launcher = subprocess.Popen(launch, cwd=tmp_path, env=env_with(), stdout=out, stderr=err,
                                    stdin=subprocess.DEVNULL)
    with launcher_cleaned_up(launcher) as workers:
        # epoch 1 backed up by both workers, epoch 2 begun: kill worker 1 in the middle of epoch 2
        backups = [run_dir / "backup" / "backup.sha256.json", run_dir / "worker-1" / "backup" / "backup.sha256.json"]
        _wait_for(lambda: all(path.exists() for path in backups), launcher, "epoch 1's backups")
        _wait_for(lambda: "[worker 0] Epoch 2/3" in out_path.read_text(), launcher, "epoch 2")
        workers.update(launched_workers(launcher))
        assert sorted(workers) == [0, 1]
        workers[1].send_signal(signal.SIGKILL)
        launcher.wait(SECONDS + 60)
    out, err = out_path.read_text(), err_path.read_text()
    assert launcher.returncode == 0, out[-3000:] + err[-3000:]
    lines = err.strip().splitlines()
    assert len(lines) == 3, err[-3000:]
    assert re.fullmatch(r"zoo\.launch: worker 1 was killed by SIGKILL (during epoch 2/3|at the end of epoch 1/3, "
                        r"after its backup of it); stopped the other workers", lines[0]), lines[0]
    assert lines[1] == ("zoo.launch: restarting all 2 workers (restart 1 of 1), resuming from the backup after "
                        f"epoch 1 of 3 ({run_dir / 'backup'})")
    assert lines[2] == "zoo.launch: restart 1 of 1: training resumed at epoch 2/3"
    # the chief began epoch 1 once and epoch 2 twice (before and after the restart), and published once
    assert [out.count(f"[worker 0] Epoch {epoch}/3") for epoch in (1, 2, 3)] == [1, 2, 1], out[-3000:]
    assert out.count("[worker 0]   exported") == 1
    only_version(exports, "cnn_mnist")
    log = (run_dir / "worker-1" / "output.log").read_text()
    assert "restart 1 of 1" in log and log.count("Epoch 3/3") == 1 and "cnn_mnist: 256 training examples" in log
    assert not (run_dir / "backup").exists() and not (run_dir / "worker-1" / "backup").exists()  # finished


@pytest.mark.slow
def test_two_hosts_started_separately_train_together_and_the_chief_publishes(tmp_path):
    """Each "host" runs the same command with its own --index; they share the export directory (only index 0
    publishes) and, being on one machine here, the run directory (worker 1 keeps to RUN_DIR/worker-1)."""
    cluster = ",".join(f"127.0.0.1:{port}" for port in free_ports(2))
    exports, run_dir = tmp_path / "exports", tmp_path / "run"
    hosts = {}
    try:
        for index in (1, 0):  # the order the hosts come up in does not matter
            command = [PYTHON, "-m", "zoo.launch", "--cluster", cluster, "--index", str(index), "--timeout",
                       str(SECONDS), *TINY_2_WORKERS, "--export-dir", str(exports), "--run-dir", str(run_dir)]
            with open(tmp_path / f"host{index}.out", "w") as out, open(tmp_path / f"host{index}.err", "w") as err:
                hosts[index] = subprocess.Popen(command, cwd=tmp_path, env=env_with(), stdout=out, stderr=err,
                                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + SECONDS + 60
        for host in hosts.values():
            host.wait(max(deadline - time.monotonic(), 1))
    finally:
        for host in hosts.values():
            host.kill()
            host.wait()
    out0, err0, out1, err1 = ((tmp_path / name).read_text() for name in ("host0.out", "host0.err", "host1.out",
                                                                         "host1.err"))
    assert [hosts[0].returncode, hosts[1].returncode] == [0, 0], (out0 + err0 + out1 + err1)[-4000:]
    assert "[worker 0] cnn_mnist: 256 training examples" in out0 and "[worker 0]   exported" in out0
    log = Path(run_dir / "worker-1" / "output.log")
    assert out1.splitlines()[0] == (f"zoo.launch: worker 1 writes its full output to {log}; only its warnings and "
                                    "errors are shown here")
    assert "training examples" not in out1 and "exported" not in out1 and "[worker 0]" not in out1
    assert "cnn_mnist: 256 training examples" in log.read_text() and "test_accuracy" in log.read_text()
    only_version(exports, "cnn_mnist")
