"""Hugging Face interop: importing local checkpoint directories (``config.json`` + ``model.safetensors``)."""
