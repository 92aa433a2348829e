"""Import a local Hugging Face T5 checkpoint (``T5ForConditionalGeneration``) as a KerasHub ``T5Seq2SeqLM``.

KerasHub 0.32 has no Hugging Face converter for T5. This module reads ``config.json``, ``model.safetensors``
(numpy, no torch) and ``spiece.model`` from a directory such as a downloaded ``t5-small`` or
``flan-t5-small``, builds a ``T5Backbone`` of the config's shape and ports every tensor, with the shape
``config.json`` implies checked on the way (:mod:`zoo.models.hf.checkpoint_files`).

What the config says, and how it is mapped (anything else is refused with one line):

- ``feed_forward_proj``: ``relu`` (v1.0) or ``gated-gelu`` (v1.1 / FLAN), ``gated-ACT`` / ``ACT`` in general.
  As in ``transformers``, ``gated-gelu`` means GELU's tanh form (``gelu_new``); a plain ``gelu`` is the erf
  form. ``wi`` (or ``wi_0``, activated, and ``wi_1``, linear) and ``wo`` become the layer's projectors.
- ``relative_attention_num_buckets`` and ``relative_attention_max_distance``: set on the two attention layers
  that own the relative bias (KerasHub fixes them at 32 and 128; the bias table is rebuilt for another count).
- ``layer_norm_epsilon``, ``d_kv`` (which need not be ``d_model / num_heads``), ``d_ff``, ``vocab_size``.
- ``tie_word_embeddings`` (true when absent, as ``transformers`` reads it): tied checkpoints project with the
  shared embedding after the ``d_model ** -0.5`` rescale; untied ones (v1.1, FLAN) with their own ``lm_head``
  and no rescale.
- ``num_decoder_layers`` must equal ``num_layers`` (KerasHub builds both stacks alike).

Example:

>>> checkpoint = load_t5_checkpoint("flan-t5-small/")                            # doctest: +SKIP
>>> checkpoint.lm.backbone.num_layers, checkpoint.vocab.sentinel_id(0)           # doctest: +SKIP
(8, 32099)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import keras_hub
import numpy as np

from zoo.errors import UsageError
from zoo.models.hf.bert_checkpoint import ACTIVATIONS
from zoo.models.hf.checkpoint_files import (
    COUNT, EPSILON, FLAG, FRACTION, NAME, CheckpointWeights, Field, check_fields, checkpoint_directory, read_config,
    read_json_object, refuse,
)
from zoo.models.text.hf_t5_tokenizer import HF_EXTRA_IDS, HFT5Vocab

SPIECE = "spiece.model"
TOKENIZER_CONFIG = "tokenizer_config.json"
# transformers.T5Config's defaults, for keys a config.json leaves out.
T5_DEFAULTS = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_heads=8,
                   relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.1,
                   layer_norm_epsilon=1e-6, feed_forward_proj="relu", tie_word_embeddings=True)
#: The config.json fields the importer reads (defaults filled in first), checked before anything is built.
T5_FIELDS = {
    **{name: COUNT for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads",
                                "relative_attention_num_buckets", "relative_attention_max_distance")},
    "dropout_rate": FRACTION, "layer_norm_epsilon": EPSILON, "feed_forward_proj": NAME, "tie_word_embeddings": FLAG,
    "num_decoder_layers": COUNT.optional(), "is_encoder_decoder": FLAG.optional(),
}


@dataclasses.dataclass
class T5Checkpoint:
    """What a T5 directory holds: the model (``T5Seq2SeqLM``), its vocabulary, and ``config.json``."""

    lm: keras_hub.models.T5Seq2SeqLM
    vocab: HFT5Vocab
    config: dict[str, Any]


def feed_forward(config: dict[str, Any]) -> tuple[str, bool]:
    """``(activation name, gated)`` as ``transformers.T5Config`` derives them from ``feed_forward_proj``."""
    projection = str(config["feed_forward_proj"])
    parts = projection.split("-")
    gated = len(parts) == 2 and parts[0] == "gated"
    activation = "gelu_new" if projection == "gated-gelu" else parts[-1]
    return activation, gated


def t5_problems(config: dict[str, Any]) -> list[str]:
    """What a T5 ``config.json`` asks for that a KerasHub ``T5Backbone`` cannot do."""
    problems = []
    projection = str(config["feed_forward_proj"])
    parts = projection.split("-")
    activation, _ = feed_forward(config)
    if len(parts) > 2 or (len(parts) == 2 and parts[0] != "gated") or activation not in ACTIVATIONS:
        problems.append(f"feed_forward_proj {projection!r} is not ACT or gated-ACT with ACT one of "
                        f"{', '.join(ACTIVATIONS)}")
    layers = config["num_layers"]
    if config.get("num_decoder_layers") not in (None, layers):
        problems.append(f"num_decoder_layers {config['num_decoder_layers']} differs from num_layers {layers}")
    if config.get("is_encoder_decoder", True) is not True:
        problems.append("is_encoder_decoder is false (an encoder-only or decoder-only T5)")
    return problems


def read_t5_config(directory: str | Path) -> dict[str, Any]:
    """``config.json`` of a T5 directory (defaults filled in), checked: weights and ``spiece.model`` present,
    settings importable."""
    directory = checkpoint_directory(directory)
    config = {**T5_DEFAULTS, **read_config(directory, "t5")}
    check_fields(config, T5_FIELDS, directory / "config.json")
    refuse(directory, "a KerasHub T5Backbone", t5_problems(config))
    d_model, last = config["d_model"], config["num_layers"] - 1
    _, gated = feed_forward(config)
    CheckpointWeights(directory).check_shapes({
        "shared.weight": (config["vocab_size"], d_model),
        **{f"{stack}.block.{last}.layer.0.SelfAttention.q.weight": (config["num_heads"] * config["d_kv"], d_model)
           for stack in ("encoder", "decoder")},
        f"encoder.block.{last}.layer.1.DenseReluDense.{'wi_0' if gated else 'wi'}.weight": (config["d_ff"], d_model),
    })
    if not (directory / SPIECE).is_file():
        raise UsageError(f"{directory / SPIECE}: missing (the T5 tokenizer's SentencePiece model is needed)")
    return config


def read_t5_vocab(directory: str | Path, vocabulary_size: int) -> HFT5Vocab:
    """The tokenizer of ``spiece.model`` with ``tokenizer_config.json``'s ``extra_ids`` (100 when absent)."""
    directory = checkpoint_directory(directory)
    extra_ids = HF_EXTRA_IDS
    if (directory / TOKENIZER_CONFIG).is_file():
        settings = read_json_object(directory / TOKENIZER_CONFIG)
        check_fields(settings, {"extra_ids": Field("int", minimum=0).optional()}, directory / TOKENIZER_CONFIG)
        extra_ids = settings.get("extra_ids", HF_EXTRA_IDS)
    from google.protobuf.message import DecodeError

    try:
        vocab = HFT5Vocab.from_spiece(directory / SPIECE, extra_ids)
    except (ValueError, RuntimeError, DecodeError) as error:
        raise UsageError(f"{directory / SPIECE}: not a T5 SentencePiece model ({error})") from None
    if vocab.size > vocabulary_size:
        raise UsageError(f"{directory / SPIECE}: {vocab.size} tokens with the sentinels, more than "
                         f"config.json's vocab_size {vocabulary_size}")
    return vocab


def build_backbone(config: dict[str, Any]) -> keras_hub.models.T5Backbone:
    """A randomly initialised ``T5Backbone`` of the config's shape, activation, epsilon and attention buckets."""
    activation, gated = feed_forward(config)
    backbone = keras_hub.models.T5Backbone(
        vocabulary_size=config["vocab_size"], num_layers=config["num_layers"],
        num_heads=config["num_heads"], hidden_dim=config["d_model"],
        intermediate_dim=config["d_ff"], key_value_dim=config["d_kv"],
        dropout=config["dropout_rate"], activation=ACTIVATIONS[activation], use_gated_activation=gated,
        layer_norm_epsilon=config["layer_norm_epsilon"],
        tie_embedding_weights=config["tie_word_embeddings"],
    )
    for layers in (backbone.encoder_transformer_layers, backbone.decoder_transformer_layers):
        set_relative_attention(layers[0].self_attention, config["relative_attention_num_buckets"],
                               config["relative_attention_max_distance"])
    return backbone


def set_relative_attention(attention: keras.layers.Layer, num_buckets: int, max_distance: int) -> None:
    """Give a KerasHub ``T5MultiHeadAttention`` that owns the relative bias another bucket count and distance.

    KerasHub creates the bias table [32, heads] in the constructor; for another count it is replaced by a
    table of the right size (its values are ported afterwards). ``max_distance`` is read at call time.
    """
    if num_buckets != attention.relative_attention_buckets:
        attention._untrack_variable(attention.relative_attention_bias)
        attention._tracker.unlock()
        attention.relative_attention_bias = attention.add_weight(
            name="embeddings", shape=[num_buckets, attention.num_heads], initializer="zeros")
        attention._tracker.lock()
        attention.relative_attention_buckets = num_buckets
    attention.relative_attention_max_distance = max_distance


# ------------------------------------------------------------------------------------------- porting
def _linear(variable, weights: CheckpointWeights, name: str, inputs: int, outputs: int) -> None:
    """A torch ``Linear`` without bias (weight [out, in]) into a Keras kernel [in, out]."""
    variable.assign(weights.get(f"{name}.weight", (outputs, inputs)).T)


def port_attention(attention, weights: CheckpointWeights, name: str, config: dict[str, Any]) -> None:
    d_model, inner = config["d_model"], config["num_heads"] * config["d_kv"]
    for ours, theirs in (("query", "q"), ("key", "k"), ("value", "v")):
        _linear(getattr(attention, f"{ours}_projector").kernel, weights, f"{name}.{theirs}", d_model, inner)
    _linear(attention.output_projector.kernel, weights, f"{name}.o", inner, d_model)
    if attention.use_relative_attention_bias:
        attention.relative_attention_bias.assign(weights.get(
            f"{name}.relative_attention_bias.weight", (attention.relative_attention_buckets, attention.num_heads)))


def port_feed_forward(layer, weights: CheckpointWeights, name: str, config: dict[str, Any]) -> None:
    d_model, d_ff = config["d_model"], config["d_ff"]
    if layer.use_gated_activation:
        _linear(layer.input_projector.kernel, weights, f"{name}.wi_0", d_model, d_ff)
        _linear(layer.gate_projector.kernel, weights, f"{name}.wi_1", d_model, d_ff)
    else:
        _linear(layer.input_projector.kernel, weights, f"{name}.wi", d_model, d_ff)
    _linear(layer.output_projector.kernel, weights, f"{name}.wo", d_ff, d_model)


def _layer_norm(layer, weights: CheckpointWeights, name: str, config: dict[str, Any]) -> None:
    layer.weight.assign(weights.get(f"{name}.weight", (config["d_model"],)))


def port_weights(backbone: keras_hub.models.T5Backbone, weights: CheckpointWeights, config: dict[str, Any]) -> None:
    """Every tensor of a ``T5ForConditionalGeneration`` checkpoint into the backbone."""
    vocabulary, d_model = config["vocab_size"], config["d_model"]
    shared = weights.get("shared.weight", (vocabulary, d_model))
    backbone.token_embedding.embeddings.assign(shared)
    has_head = weights.has("lm_head.weight")
    if backbone.tie_embedding_weights:
        if has_head and not np.array_equal(weights.get("lm_head.weight", (vocabulary, d_model)), shared):
            raise UsageError(f"{weights.path}: lm_head.weight differs from shared.weight, but config.json says "
                             "tie_word_embeddings is true")
    else:
        backbone.token_embedding.reverse_embeddings.assign(weights.get("lm_head.weight", (vocabulary, d_model)).T)
    for stack, layers in (("encoder", backbone.encoder_transformer_layers),
                          ("decoder", backbone.decoder_transformer_layers)):
        for i, layer in enumerate(layers):
            block = f"{stack}.block.{i}.layer"
            port_attention(layer.self_attention, weights, f"{block}.0.SelfAttention", config)
            _layer_norm(layer.self_attention_layer_norm, weights, f"{block}.0.layer_norm", config)
            feed_forward_index = 1
            if layer.is_decoder:
                port_attention(layer.cross_attention, weights, f"{block}.1.EncDecAttention", config)
                _layer_norm(layer.cross_attention_layer_norm, weights, f"{block}.1.layer_norm", config)
                feed_forward_index = 2
            port_feed_forward(layer, weights, f"{block}.{feed_forward_index}.DenseReluDense", config)
            _layer_norm(layer.layer_norm, weights, f"{block}.{feed_forward_index}.layer_norm", config)
    _layer_norm(backbone.encoder_layer_norm, weights, "encoder.final_layer_norm", config)
    _layer_norm(backbone.decoder_layer_norm, weights, "decoder.final_layer_norm", config)


def load_t5_checkpoint(directory: str | Path) -> T5Checkpoint:
    """The ``T5Seq2SeqLM`` of a Hugging Face T5 directory, whose logits equal ``transformers``', and its vocabulary."""
    directory = checkpoint_directory(directory)
    config = read_t5_config(directory)
    vocab = read_t5_vocab(directory, config["vocab_size"])
    backbone = build_backbone(config)
    port_weights(backbone, CheckpointWeights(directory), config)
    return T5Checkpoint(keras_hub.models.T5Seq2SeqLM(backbone), vocab, config)
