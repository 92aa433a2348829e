"""A SavedModel loaded the way TF Serving loads it: the TF1 session loader with the ``serve`` tag, in a graph and
session of its own, with tensorflow-text's ops registered (the stock model server links them); signatures run
by feeding and fetching their tensor names.

The export gate, ``zoo.serve``, the benches and the tests all load and run exports through :class:`SessionModel`.

Example:

>>> import numpy as np, tempfile, tensorflow as tf
>>> class HalfPlusTwo(tf.Module):
...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
...     def predict(self, x):
...         return {"y": 0.5 * x + 2.0}
>>> module = HalfPlusTwo()
>>> path = tempfile.mkdtemp()
>>> tf.saved_model.save(module, path, signatures={"serving_default": module.predict})
>>> with SessionModel(path) as model:
...     model.run("serving_default", {"x": np.array([1.0, 2.0, 5.0], np.float32)})["y"].tolist()
[2.5, 3.0, 4.5]
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers tensorflow-text's ops, as the stock model server links them)


def session_load(session, saved_model_dir: str | Path):
    """TF Serving's loader path (``LoadSavedModel`` into a session), minus its deprecation notice."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return tf.compat.v1.saved_model.loader.load(session, ["serve"], str(saved_model_dir))
    finally:
        logger.setLevel(level)


class SessionModel:
    """One SavedModel in its own graph and session: ``meta_graph``, ``signature_defs``, :meth:`run`, :meth:`close`.

    Loading errors propagate (the session is closed first). Use it as a context manager, or call ``close``.
    """

    def __init__(self, saved_model_dir: str | Path) -> None:
        self.path = Path(saved_model_dir)
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        try:
            with self.graph.as_default():
                self.meta_graph = session_load(self.session, self.path)
        except Exception:
            self.session.close()
            raise
        self.signature_defs = self.meta_graph.signature_def

    def run(self, signature: str, feeds: Mapping[str, np.ndarray], fetches: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Feed ``feeds`` (by input alias) to ``signature`` and return ``fetches`` (default: every output)."""
        signature_def = self.signature_defs[signature]
        fetches = tuple(fetches) or tuple(signature_def.outputs)
        return self.session.run({k: signature_def.outputs[k].name for k in fetches},
                                {signature_def.inputs[k].name: v for k, v in feeds.items()})

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "SessionModel":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
