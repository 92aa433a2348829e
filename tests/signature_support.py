"""Running an exported signature the way TF Serving does (:class:`zoo.export.session.SessionModel`)."""

from __future__ import annotations

from zoo.export.session import SessionModel


def session_run(version_dir, signature_name: str, feeds: dict):
    """``(signature_def, outputs)`` of one signature run on ``feeds`` in a fresh graph and session."""
    with SessionModel(version_dir) as model:
        return model.signature_defs[signature_name], model.run(signature_name, feeds)
