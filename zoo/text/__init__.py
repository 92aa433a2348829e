"""Text: in-graph tokenisation (tensorflow-text ops only, so TF Serving runs it) and text-model helpers."""
