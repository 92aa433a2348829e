"""A training run killed after an epoch resumes from it when started again with the same arguments."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from zoo_subprocess import PYTHON, assert_serves_digits, env_with, only_version, run_python


def _epoch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Epoch ")]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_epoch(tmp_path):
    run_dir, export_dir = tmp_path / "run", tmp_path / "export"
    args = ["-m", "zoo.run", "cnn_mnist", "--set", "epochs=3", "--set", "max_examples=256", "--set", "filters=8",
            "--set", "min_epoch_examples=0", "--export-dir", str(export_dir), "--run-dir", str(run_dir)]
    first = subprocess.Popen([PYTHON, *args], cwd=tmp_path, env=env_with(), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 180
    try:
        for line in first.stdout:  # "Epoch 2/3" is printed after epoch 1's backup is written
            if line.startswith("Epoch 2/3") or time.monotonic() > deadline:
                break
    finally:
        first.kill()
        first.wait(30)
    assert first.returncode == -signal.SIGKILL
    backed_up = json.loads((run_dir / "backup" / "training_metadata.json").read_text())["epoch"]
    assert backed_up >= 1 and not (export_dir / "cnn_mnist").exists()

    second = run_python(args[:], cwd=tmp_path, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    epochs = _epoch_lines(second.stdout)
    assert epochs[0].startswith(f"Epoch {backed_up + 1}/3")  # epoch 1 was not trained again
    assert epochs[-1].startswith("Epoch 3/3")
    assert_serves_digits(only_version(export_dir, "cnn_mnist"))
    assert not (run_dir / "backup").exists()  # a finished run leaves no backup, so a new run starts afresh
