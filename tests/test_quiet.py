"""What reaches the console: TensorFlow's native start-up lines never, known repeated notices not during a run."""

from __future__ import annotations

import logging

from zoo.quiet import KNOWN_LOG_LINES, known_notices_quieted
from zoo_subprocess import run_python


def test_importing_zoo_imports_no_tensorflow_and_its_first_import_prints_nothing(tmp_path):
    code = ("import sys, zoo; assert 'tensorflow' not in sys.modules\n"
            "import keras, tensorflow as tf\n"
            "print(tf.constant(2) * 3)")
    done = run_python(["-c", code], cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "tf.Tensor(6, shape=(), dtype=int32)"
    assert done.stderr == ""  # no oneDNN, CUDA or absl start-up lines


def test_known_tensorflow_log_lines_are_dropped_during_a_run_and_others_kept(caplog):
    logger = logging.getLogger("tensorflow")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        with known_notices_quieted():
            for line in KNOWN_LOG_LINES:
                logger.warning("5 out of the last 5 calls %s: ...", line)
            logger.warning("a warning a user must see")
        logger.warning("after the run: %s", KNOWN_LOG_LINES[0])
    assert [r.getMessage() for r in caplog.records] == [
        "a warning a user must see", f"after the run: {KNOWN_LOG_LINES[0]}"]
