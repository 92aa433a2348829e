"""Import a local Hugging Face ELECTRA checkpoint (discriminator or generator) into KerasHub, matching PyTorch.

KerasHub 0.32 has no Hugging Face converter for ELECTRA; this module ports ``model.safetensors`` (no torch)
into a KerasHub ``ElectraBackbone`` and Keras heads:

- ``ElectraForPreTraining`` (``google/electra-*-discriminator``): backbone + ``discriminator_predictions``
  (dense → ``hidden_act`` → one logit per token). :class:`ElectraDiscriminator` gives
  ``sigmoid(logits)``, the probability that each token was replaced.
- ``ElectraForMaskedLM`` (``google/electra-*-generator``): backbone + ``generator_predictions`` (dense to
  ``embedding_size`` → erf GELU, whatever ``hidden_act`` says, as ``transformers`` hard-codes it → layer norm)
  + ``generator_lm_head`` (tied to the token embedding), as a :class:`zoo.models.text.masked_lm.MaskedLM`.

The encoder is BERT's, so the layers are ported by :mod:`zoo.models.hf.bert_checkpoint` (activation mapped exactly,
``layer_norm_eps`` on every layer norm); ``embedding_size`` ≠ ``hidden_size`` becomes the backbone's
``embeddings_projection`` (``electra.embeddings_project``). ELECTRA has no pooler: the backbone's
``pooled_output`` comes from KerasHub's freshly initialised ``pooled_dense``.

Example (the repository's tiny random checkpoints; ``google/electra-small-*`` directories load the same way):

>>> tiny = Path(__file__).parents[3] / "tests" / "fixtures" / "hf_encoders"
>>> checkpoint_kind(tiny / "electra_discriminator"), checkpoint_kind(tiny / "electra_generator")
('discriminator', 'generator')
>>> ids = tf.constant([[2, 106, 4, 3]])
>>> inputs = {"token_ids": ids, "segment_ids": tf.zeros_like(ids), "padding_mask": tf.ones_like(ids)}
>>> load_electra_discriminator(tiny / "electra_discriminator").replaced_probabilities(inputs).shape
TensorShape([1, 4])
>>> load_electra_generator(tiny / "electra_generator").head.vocabulary_size
765
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import keras_hub
import tensorflow as tf

from zoo.errors import UsageError
from zoo.models.hf.bert_checkpoint import (
    ACTIVATIONS, gelu_erf, read_encoder_config, masked_lm_head, port_dense, port_embeddings, port_encoder_layers,
)
from zoo.models.hf.checkpoint_files import CheckpointWeights, refuse
from zoo.models.text.masked_lm import MaskedLM
from zoo.models.text.wordpiece import BACKBONE_INPUTS

PREFIX = "electra."
DISCRIMINATOR_HEAD = "discriminator_predictions"
GENERATOR_HEAD = "generator_predictions"
GENERATOR_OUTPUT = "generator_lm_head"


def read_electra_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of an ELECTRA checkpoint directory, checked (weights, vocabulary, importable settings)."""
    return read_encoder_config(directory, "electra", "ElectraBackbone")


def checkpoint_kind(directory: str | Path) -> str:
    """``"discriminator"`` or ``"generator"``: which head ``model.safetensors`` holds."""
    weights = CheckpointWeights(directory, prefix=PREFIX)
    if weights.has(f"{DISCRIMINATOR_HEAD}.dense_prediction.weight"):
        return "discriminator"
    if weights.has(f"{GENERATOR_HEAD}.dense.weight"):
        return "generator"
    raise UsageError(f"{weights.path}: neither an ElectraForPreTraining ({DISCRIMINATOR_HEAD}.*) nor an "
                     f"ElectraForMaskedLM ({GENERATOR_HEAD}.*) checkpoint")


def _backbone(config: dict[str, Any], weights: CheckpointWeights) -> keras_hub.models.ElectraBackbone:
    embedding, hidden = config.get("embedding_size", config["hidden_size"]), config["hidden_size"]
    backbone = keras_hub.models.ElectraBackbone(
        vocab_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], hidden_dim=hidden, embedding_dim=embedding,
        intermediate_dim=config["intermediate_size"], dropout=config.get("hidden_dropout_prob", 0.1),
        max_sequence_length=config["max_position_embeddings"], num_segments=config.get("type_vocab_size", 2),
    )
    port_embeddings(backbone, weights, config, embedding)
    if embedding != hidden:
        port_dense(backbone.embeddings_projection, weights, "embeddings_project", embedding, hidden)
    port_encoder_layers(backbone, weights, config)
    return backbone


def read_electra_checkpoint(directory: str | Path, kind: str) -> dict[str, Any]:
    """``config.json`` of an ELECTRA ``kind`` ("discriminator" or "generator") directory, everything checked."""
    config = read_electra_config(directory)
    found = checkpoint_kind(directory)
    if found != kind:
        raise UsageError(f"{Path(directory) / 'model.safetensors'}: an ELECTRA {found}, where a {kind} is expected")
    return config


def _load(directory: str | Path, kind: str) -> tuple[dict[str, Any], CheckpointWeights]:
    return read_electra_checkpoint(directory, kind), CheckpointWeights(directory, prefix=PREFIX)


@dataclasses.dataclass
class ElectraDiscriminator:
    """An ``ElectraBackbone`` and the replaced-token ``head`` (per-token logits), as ``ElectraForPreTraining``."""

    backbone: keras.Model
    head: keras.Model

    def replaced_logits(self, inputs: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        """Logits [batch, length] that each token was replaced (``ElectraForPreTraining(...).logits``)."""
        sequence = self.backbone({k: inputs[k] for k in BACKBONE_INPUTS}, training=training)["sequence_output"]
        return self.head(sequence, training=training)[..., 0]

    def replaced_probabilities(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.sigmoid(self.replaced_logits(inputs))


def load_electra_discriminator(directory: str | Path) -> ElectraDiscriminator:
    """The discriminator of an ``ElectraForPreTraining`` checkpoint (``google/electra-small-discriminator``)."""
    config, weights = _load(directory, "discriminator")
    backbone = _backbone(config, weights)
    hidden = config["hidden_size"]
    dense = keras.layers.Dense(hidden, activation=ACTIVATIONS[config["hidden_act"]], name="dense")
    prediction = keras.layers.Dense(1, name="dense_prediction")
    head = keras.Sequential([keras.Input((None, hidden)), dense, prediction], name=DISCRIMINATOR_HEAD)
    port_dense(dense, weights, f"{DISCRIMINATOR_HEAD}.dense", hidden, hidden)
    port_dense(prediction, weights, f"{DISCRIMINATOR_HEAD}.dense_prediction", hidden, 1)
    return ElectraDiscriminator(backbone, head)


def load_electra_generator(directory: str | Path) -> MaskedLM:
    """Backbone and masked-LM head of an ``ElectraForMaskedLM`` checkpoint (``google/electra-small-generator``)."""
    config, weights = _load(directory, "generator")
    embedding, hidden = config.get("embedding_size", config["hidden_size"]), config["hidden_size"]
    tied = config.get("tie_word_embeddings", True)
    if not tied and embedding != hidden:
        refuse(Path(directory), "a KerasHub MaskedLMHead",
               [f"an untied generator_lm_head with embedding_size {embedding} != hidden_size {hidden}"])
    backbone = _backbone(config, weights)
    head = masked_lm_head(backbone, weights, config, GENERATOR_HEAD, GENERATOR_OUTPUT, gelu_erf, embedding, tied)
    head._bias.assign(weights.get(f"{GENERATOR_OUTPUT}.bias", (config["vocab_size"],)))
    return MaskedLM(backbone, head)
