"""``make demo``, the README's first command, as a user runs it: make → the venv's python → zoo.run cnn_mnist."""

import shutil
import subprocess

import pytest

from zoo_subprocess import REPO, TINY, assert_serves_digits, env_with, only_version


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.skipif(not (REPO / ".venv" / ".installed").exists(), reason="the repository's .venv is not installed")
def test_make_demo_trains_and_exports_cnn_mnist(tmp_path):
    demo_args = " ".join([*TINY, "--export-dir", str(tmp_path / "exports"), "--run-dir", str(tmp_path / "run")])
    run = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "demo", f"DEMO_ARGS={demo_args}"],
                         env=env_with(), capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "quality bar test_accuracy >= 0.994" in run.stdout and "gate passed" in run.stdout
    assert_serves_digits(only_version(tmp_path / "exports", "cnn_mnist"))
