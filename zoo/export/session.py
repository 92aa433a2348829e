"""Loading a SavedModel the way TF Serving does: the TF1 session loader with the ``serve`` tag.

Example:

>>> import tensorflow as tf
>>> graph = tf.Graph()
>>> with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:     # doctest: +SKIP
...     meta_graph = session_load(session, "saved_models/cnn_mnist/1")
...     sorted(meta_graph.signature_def)
['__saved_model_init_op', 'classify', 'serving_default']
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf


def session_load(session, saved_model_dir: str | Path):
    """TF Serving's loader path (``LoadSavedModel`` into a session), minus its deprecation notice."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return tf.compat.v1.saved_model.loader.load(session, ["serve"], str(saved_model_dir))
    finally:
        logger.setLevel(level)
