"""``--strategy mirrored`` on two logical CPU devices, in a subprocess (devices must be set before TF starts)."""

from __future__ import annotations

import pytest

from zoo_subprocess import TINY, assert_serves_digits, only_version, run_python

# Splits the CPU into two logical devices, records the strategy zoo.run makes, then runs the CLI.
MIRRORED_RUNNER = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import zoo.distribute
made = []
make_strategy = zoo.distribute.make_strategy
zoo.distribute.make_strategy = lambda name: made.append(make_strategy(name)) or made[-1]
from zoo.run import main
status = main(sys.argv[1:])
print("replicas in sync:", made[0].num_replicas_in_sync)
sys.exit(status)
"""


@pytest.mark.slow
def test_mirrored_trains_on_two_devices_and_exports(tmp_path):
    run = run_python(["-c", MIRRORED_RUNNER, "cnn_mnist", *TINY, "--strategy", "mirrored",
                      "--export-dir", str(tmp_path / "export"), "--run-dir", str(tmp_path / "run")],
                     cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "replicas in sync: 2" in run.stdout
    assert_serves_digits(only_version(tmp_path / "export", "cnn_mnist"))


def test_multi_worker_without_tf_config_is_a_usage_error(tmp_path):
    run = run_python(["-m", "zoo.run", "cnn_mnist", *TINY, "--strategy", "multi_worker",
                      "--export-dir", str(tmp_path / "export")], cwd=tmp_path, timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("zoo: error: --strategy multi_worker needs TF_CONFIG")
    assert not (tmp_path / "export").exists()
