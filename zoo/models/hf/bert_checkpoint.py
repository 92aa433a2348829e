"""Import a local Hugging Face BERT checkpoint as a KerasHub ``BertBackbone`` (and its masked-LM head) that matches PyTorch.

The weights are read from ``model.safetensors`` (no torch) and ported tensor by tensor, with the shapes
``config.json`` implies checked on the way (:mod:`zoo.models.hf.checkpoint_files`). A ``BertModel`` directory
(MiniLM) gives the backbone; a ``BertForMaskedLM`` / ``BertForPreTraining`` one (``bert-base-uncased``) also
has the masked-LM head ``cls.predictions.*``, which :func:`load_bert_masked_lm` returns as a KerasHub
``MaskedLMHead`` reading the backbone's token embedding (tied, as ``bert-base-uncased``) or its own
output matrix (``tie_word_embeddings: false``).

KerasHub's ``BertBackbone`` always uses the tanh approximation of GELU and a layer-norm epsilon of 1e-12.
Hugging Face's ``hidden_act: "gelu"`` is the exact erf form: compared layer by layer against
``transformers.BertModel`` on MiniLM-L6-H384, the tanh form alone adds ~1e-3 of error per layer (3e-3 on the
sequence output after six layers). So each encoder layer's feed-forward activation is set to the one the
config names (``gelu`` = erf; ``gelu_new`` / ``gelu_pytorch_tanh`` = tanh; ``relu``; ``silu``), and every
layer norm gets the config's ``layer_norm_eps``. Settings KerasHub cannot express (relative position
embeddings, a decoder, heads that do not divide the hidden size) are refused with one line.

The MLM checkpoints carry no pooler (``BertForMaskedLM`` drops it); their backbone's ``pooled_output`` then
comes from KerasHub's freshly initialised ``pooled_dense``.

Example:

>>> load_bert_checkpoint(minilm_directory()).hidden_dim
384
>>> has_masked_lm_head(minilm_directory())      # a BertModel: no fill_mask
False
>>> load_bert_masked_lm("bert-base-uncased/").head.vocabulary_size            # doctest: +SKIP
30522
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import keras
import keras_hub
import numpy as np

from zoo.activations import gelu_erf, gelu_tanh
from zoo.data.minilm import minilm_directory
from zoo.errors import UsageError
from zoo.models.hf.checkpoint_files import (
    COUNT, EPSILON, FLAG, FRACTION, NAME, CheckpointWeights, read_config, read_wordpiece_vocabulary, refuse,
)
from zoo.models.text.masked_lm import MaskedLM

__all__ = ["ACTIVATIONS", "load_bert_checkpoint", "load_bert_masked_lm", "minilm_directory", "read_bert_config"]


# Hugging Face activation names → the Keras function with the same formula.
ACTIVATIONS: dict[str, Callable] = {
    "gelu": gelu_erf,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
}


#: The config.json fields the BERT and ELECTRA importers read, checked before anything is built.
ENCODER_FIELDS = {
    "vocab_size": COUNT, "hidden_size": COUNT, "num_hidden_layers": COUNT, "num_attention_heads": COUNT,
    "intermediate_size": COUNT, "max_position_embeddings": COUNT, "hidden_act": NAME,
    "type_vocab_size": COUNT.optional(), "embedding_size": COUNT.optional(), "layer_norm_eps": EPSILON.optional(),
    "hidden_dropout_prob": FRACTION.optional(), "attention_probs_dropout_prob": FRACTION.optional(),
    "tie_word_embeddings": FLAG.optional(), "position_embedding_type": NAME.optional(),
    "is_decoder": FLAG.optional(), "add_cross_attention": FLAG.optional(),
}


def encoder_problems(config: dict[str, Any]) -> list[str]:
    """What a BERT-style ``config.json`` asks for that a KerasHub BERT/ELECTRA encoder cannot do."""
    problems = []
    if config.get("hidden_act") not in ACTIVATIONS:
        problems.append(f"hidden_act {config.get('hidden_act')!r} is not one of {', '.join(ACTIVATIONS)}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"position_embedding_type {config['position_embedding_type']!r} is not 'absolute'")
    if config.get("is_decoder") or config.get("add_cross_attention"):
        problems.append("it is a decoder (is_decoder / add_cross_attention)")
    if config.get("hidden_size", 0) % max(config.get("num_attention_heads", 1), 1):
        problems.append(f"hidden_size {config['hidden_size']} is not a multiple of "
                        f"num_attention_heads {config['num_attention_heads']}")
    return problems


def read_encoder_config(directory: str | Path, model_type: str, backbone: str) -> dict[str, Any]:
    """``config.json`` of a BERT-family checkpoint directory (``model_type`` ``bert`` or ``electra``), checked:
    the weights file and vocabulary are present and every setting can be expressed by KerasHub's ``backbone``."""
    config = read_config(directory, model_type, ENCODER_FIELDS)
    refuse(Path(directory), f"a KerasHub {backbone}", encoder_problems(config))
    hidden, last = config["hidden_size"], config["num_hidden_layers"] - 1
    width = config.get("embedding_size", hidden)
    CheckpointWeights(directory, prefix=f"{model_type}.").check_shapes({
        "embeddings.word_embeddings.weight": (config["vocab_size"], width),
        "embeddings.position_embeddings.weight": (config["max_position_embeddings"], width),
        f"encoder.layer.{last}.attention.self.query.weight": (hidden, hidden),
        f"encoder.layer.{last}.intermediate.dense.weight": (config["intermediate_size"], hidden),
    })
    read_wordpiece_vocabulary(directory, config["vocab_size"])
    return config


def read_bert_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of a BERT checkpoint directory, checked (weights file and vocabulary present, settings importable)."""
    return read_encoder_config(directory, "bert", "BertBackbone")


# ------------------------------------------------------------------------------------------- porting
def _assign(variable, array: np.ndarray) -> None:
    variable.assign(np.reshape(array, tuple(variable.shape)))


def port_embeddings(backbone: keras.Model, weights: CheckpointWeights, config: dict[str, Any], width: int) -> None:
    """Token, position and segment embeddings and their layer norm (``width`` = the embedding size)."""
    _assign(backbone.token_embedding.embeddings,
            weights.get("embeddings.word_embeddings.weight", (config["vocab_size"], width)))
    _assign(backbone.position_embedding.position_embeddings,
            weights.get("embeddings.position_embeddings.weight", (config["max_position_embeddings"], width)))
    _assign(backbone.segment_embedding.embeddings,
            weights.get("embeddings.token_type_embeddings.weight", (config.get("type_vocab_size", 2), width)))
    port_layer_norm(backbone.embeddings_layer_norm, weights, "embeddings.LayerNorm", width, config)


def port_layer_norm(layer: keras.layers.LayerNormalization, weights: CheckpointWeights, name: str, width: int,
                    config: dict[str, Any]) -> None:
    _assign(layer.gamma, weights.get(f"{name}.weight", (width,)))
    _assign(layer.beta, weights.get(f"{name}.bias", (width,)))
    layer.epsilon = float(config.get("layer_norm_eps", 1e-12))


def port_dense(layer: keras.layers.Dense, weights: CheckpointWeights, name: str, inputs: int, outputs: int) -> None:
    """A torch ``Linear`` (weight [out, in]) into a Keras ``Dense`` (kernel [in, …])."""
    _assign(layer.kernel, weights.get(f"{name}.weight", (outputs, inputs)).T)
    _assign(layer.bias, weights.get(f"{name}.bias", (outputs,)))


def port_encoder_layers(backbone: keras.Model, weights: CheckpointWeights, config: dict[str, Any]) -> None:
    """Every ``encoder.layer.N`` (attention, feed-forward, both layer norms) and the config's activation."""
    hidden, intermediate = config["hidden_size"], config["intermediate_size"]
    activation = ACTIVATIONS[config["hidden_act"]]
    for i, layer in enumerate(backbone.transformer_layers):
        prefix = f"encoder.layer.{i}"
        attention = layer._self_attention_layer
        for ours, theirs in (("query_dense", "query"), ("key_dense", "key"), ("value_dense", "value")):
            port_dense(getattr(attention, ours), weights, f"{prefix}.attention.self.{theirs}", hidden, hidden)
        port_dense(attention.output_dense, weights, f"{prefix}.attention.output.dense", hidden, hidden)
        port_layer_norm(layer._self_attention_layer_norm, weights, f"{prefix}.attention.output.LayerNorm", hidden, config)
        port_dense(layer._feedforward_intermediate_dense, weights, f"{prefix}.intermediate.dense", hidden, intermediate)
        port_dense(layer._feedforward_output_dense, weights, f"{prefix}.output.dense", intermediate, hidden)
        port_layer_norm(layer._feedforward_layer_norm, weights, f"{prefix}.output.LayerNorm", hidden, config)
        layer.activation = activation
        layer._feedforward_intermediate_dense.activation = activation  # built already: the layer calls this one


def masked_lm_head(backbone: keras.Model, weights: CheckpointWeights, config: dict[str, Any], prefix: str,
                   decoder: str, activation: Callable, width: int, tied: bool) -> keras_hub.layers.MaskedLMHead:
    """A KerasHub ``MaskedLMHead``: ``prefix.dense`` → ``activation`` → ``prefix.LayerNorm`` → vocabulary logits.

    ``width`` is the head's feature size (BERT: hidden size; ELECTRA generator: embedding size). Tied heads
    project with the backbone's token embedding; untied ones with their own ``decoder.weight``.
    """
    vocabulary, hidden = config["vocab_size"], config["hidden_size"]
    head = keras_hub.layers.MaskedLMHead(
        vocabulary_size=vocabulary, token_embedding=backbone.token_embedding if tied else None,
        intermediate_activation=activation, layer_norm_epsilon=float(config.get("layer_norm_eps", 1e-12)),
        name="mlm_head",
    )
    head.build((None, None, hidden))
    port_dense(head._intermediate_dense, weights, f"{prefix}.dense", hidden, width)
    port_layer_norm(head._intermediate_layer_norm, weights, f"{prefix}.LayerNorm", width, config)
    if not tied:
        _assign(head._kernel, weights.get(f"{decoder}.weight", (vocabulary, width)).T)
    return head


def _bert_backbone(directory: Path, config: dict[str, Any], weights: CheckpointWeights) -> keras_hub.models.BertBackbone:
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"], dropout=config.get("hidden_dropout_prob", 0.1),
        max_sequence_length=config["max_position_embeddings"], num_segments=config.get("type_vocab_size", 2),
    )
    port_embeddings(backbone, weights, config, config["hidden_size"])
    port_encoder_layers(backbone, weights, config)
    if weights.has("pooler.dense.weight"):
        port_dense(backbone.pooled_dense, weights, "pooler.dense", config["hidden_size"], config["hidden_size"])
    return backbone


def load_bert_checkpoint(directory: str | Path) -> keras_hub.models.BertBackbone:
    """A ``BertBackbone`` with the checkpoint's weights whose outputs equal ``transformers.BertModel``'s."""
    directory = Path(directory)
    config = read_bert_config(directory)
    return _bert_backbone(directory, config, CheckpointWeights(directory, prefix="bert."))


MLM_PREFIX = "cls.predictions"


def has_masked_lm_head(directory: str | Path) -> bool:
    """Whether a BERT checkpoint directory holds the masked-LM head (``cls.predictions.*``)."""
    return CheckpointWeights(directory, prefix="bert.").has(f"{MLM_PREFIX}.transform.dense.weight")


def load_bert_masked_lm(directory: str | Path) -> MaskedLM:
    """Backbone and masked-LM head of a ``BertForMaskedLM`` checkpoint: the logits of ``transformers``' model."""
    directory = Path(directory)
    config = read_bert_config(directory)
    weights = CheckpointWeights(directory, prefix="bert.")
    if not weights.has(f"{MLM_PREFIX}.transform.dense.weight"):
        raise UsageError(f"{weights.path}: no masked-LM head ({MLM_PREFIX}.*): a BertModel checkpoint cannot fill masks")
    backbone = _bert_backbone(directory, config, weights)
    hidden = config["hidden_size"]
    head = masked_lm_head(backbone, weights, config, f"{MLM_PREFIX}.transform", f"{MLM_PREFIX}.decoder",
                          ACTIVATIONS[config["hidden_act"]], hidden, tied=config.get("tie_word_embeddings", True))
    # The forward pass adds decoder.bias, which is cls.predictions.bias itself unless the embeddings are untied.
    bias = f"{MLM_PREFIX}.decoder.bias" if weights.has(f"{MLM_PREFIX}.decoder.bias") else f"{MLM_PREFIX}.bias"
    _assign(head._bias, weights.get(bias, (config["vocab_size"],)))
    return MaskedLM(backbone, head)
