"""Resume checkpoints are loaded only when they match the digests recorded when they were written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from zoo.backup import VerifiedBackupAndRestore
from zoo.run_files import MANIFEST


class StopAt(keras.callbacks.Callback):
    """Raises at the start of epoch ``epoch``, as a killed process stops: the backup of the epochs before stays."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def fit(backup_dir: Path, epochs: int = 4, stop_at: int | None = None) -> list[float]:
    """A tiny model trained with the callback; the epochs it ran (their losses)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    callbacks = [VerifiedBackupAndRestore(str(backup_dir))] + ([StopAt(stop_at)] if stop_at is not None else [])
    x, y = np.ones((8, 2), np.float32), np.ones((8, 1), np.float32)
    try:
        return model.fit(x, y, epochs=epochs, callbacks=callbacks, verbose=0).history["loss"]
    except KeyboardInterrupt:
        return []


def interrupted_run(tmp_path: Path) -> Path:
    backup = tmp_path / "backup"
    fit(backup, stop_at=2)  # epochs 0 and 1 done and backed up
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    return backup


def test_an_untouched_checkpoint_resumes(tmp_path, capsys):
    backup = interrupted_run(tmp_path)
    assert len(fit(backup)) == 2  # epochs 2 and 3 only
    assert "discarding" not in capsys.readouterr().err


def test_a_kill_in_the_middle_of_a_save_resumes_from_the_previous_checkpoint(tmp_path, capsys):
    backup = interrupted_run(tmp_path)
    for name in ("latest.weights.h5", "training_metadata.json"):  # the next save began as Keras begins one …
        shutil.copyfile(backup / name, backup / f"{name}.bkp")
    (backup / "latest.weights.h5").write_bytes(b"half a file")  # … and was cut short
    (backup / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    assert len(fit(backup)) == 2  # resumed after epoch 1, from the .bkp pair, which matches the record
    assert "discarding" not in capsys.readouterr().err


@pytest.mark.parametrize("tamper", [
    lambda backup: (backup / "latest.weights.h5").write_bytes(b"not these weights"),
    lambda backup: (backup / MANIFEST).unlink(),
    lambda backup: (backup / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}'),
], ids=["weights-replaced", "no-record", "metadata-edited"])
def test_a_checkpoint_that_is_not_what_was_written_is_discarded_and_training_starts_over(tmp_path, capsys, tamper):
    backup = interrupted_run(tmp_path)
    (backup / "latest.weights.h5.bkp").write_bytes(b"neither these")
    tamper(backup)
    assert len(fit(backup)) == 4  # all epochs, from the start
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"zoo: the resume checkpoint in {backup} is not the one this run recorded (sha256 differs or "
                     "no record); discarding it and starting over"]
