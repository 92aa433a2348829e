"""Running an exported signature the way TF Serving does (TF1 session loader, feeds and fetches by tensor name)."""

from __future__ import annotations

import tensorflow as tf

from zoo.export.session import session_load


def session_run(version_dir, signature_name: str, feeds: dict):
    """``(signature_def, outputs)`` of one signature run on ``feeds`` in a fresh graph and session."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as session:
        signature = session_load(session, version_dir).signature_def[signature_name]
        outputs = session.run(
            {k: v.name for k, v in signature.outputs.items()},
            {signature.inputs[k].name: v for k, v in feeds.items()},
        )
        return signature, outputs
