"""Resume checkpoints that are loaded only when they are what the run wrote.

Keras' ``BackupAndRestore`` writes ``latest.weights.h5`` and ``training_metadata.json`` after every epoch and, with
``double_checkpoint``, keeps the pair before it as ``*.bkp``. :class:`VerifiedBackupAndRestore` also records, once
a save is complete, the sha256 of both files in ``backup.sha256.json``. On resume the latest pair is loaded only if
it matches; else the previous pair if that matches (the run was killed in the middle of a save); else nothing: the
backup is discarded with one line on stderr and training starts over. A checkpoint changed on disk, truncated, or
left by another program is never loaded.

Example:

>>> import keras, numpy as np, tempfile
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> model.compile("sgd", "mse")
>>> backup = VerifiedBackupAndRestore(tempfile.mkdtemp(), delete_checkpoint=False)
>>> _ = model.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=1, callbacks=[backup], verbose=0)
>>> import json
>>> from zoo.run_files import MANIFEST
>>> sorted(json.loads((Path(backup.backup_dir) / MANIFEST).read_text()))
['latest.weights.h5', 'training_metadata.json']
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import keras

from zoo.run_files import record_digests, trusted_pair


class VerifiedBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` with the previous checkpoint kept and every checkpoint digest-checked
    before it is loaded."""

    def __init__(self, backup_dir: str, **kwargs) -> None:
        super().__init__(backup_dir, double_checkpoint=True, **kwargs)

    def _save_model(self) -> None:
        super()._save_model()
        record_digests(Path(self.backup_dir))

    def on_train_begin(self, logs=None) -> None:
        self._keep_only_what_was_written()
        super().on_train_begin(logs)

    def _keep_only_what_was_written(self) -> None:
        directory = Path(self.backup_dir)
        latest = Path(self._weights_path), Path(self._training_metadata_path)
        if not latest[0].exists():
            return
        pair = trusted_pair(directory)
        if pair is None:
            print(f"zoo: the resume checkpoint in {directory} is not the one this run recorded (sha256 differs or no "
                  "record); discarding it and starting over", file=sys.stderr)
            shutil.rmtree(directory)
            return
        for source, target in zip(pair, latest):
            if source != target:
                shutil.copyfile(source, target)
