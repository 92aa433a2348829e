"""T5 generation: KerasHub's ``T5Seq2SeqLM`` decoded by :mod:`zoo.models.text.decoding`, open batch, stock ops.

``T5Seq2SeqLM.generate`` cannot be exported with a ``None`` batch dimension (its sampler squeezes an axis
whose static size is lost, "Cannot squeeze axis=1"), and its self-attention cache is updated with
``XlaDynamicUpdateSlice``, an op the stock model server does not run. :func:`t5_generate` runs the encoder once,
projects each decoder layer's cross-attention keys and values once, and hands :func:`~zoo.models.text.decoding.decode`
a step built from the model's own layers and weights. Self-attention keeps a key/value cache of fixed size
[rows, bound, heads, head_dim] per layer: step ``i`` feeds only the newest token, writes its key and value at
position ``i`` with a one-hot ``SelectV2`` (no dynamic-update-slice), and attends over all ``bound`` positions
with the later ones masked, so every step does the same work, at token 60 as at token 2. ``cache=False``
instead recomputes the decoder over the whole prefix each step (the plain formulation, kept as the reference the
cache is measured and tested against).

Greedy output equals KerasHub's greedy ``generate`` (:func:`keras_hub_greedy`) and, on imported checkpoints,
PyTorch ``transformers``' ``generate``, for greedy search, beam search and sampling's candidate sets
(tests/test_t5_decoding.py, tests/test_hf_t5_generation.py).

Example:

>>> import keras_hub, tensorflow as tf
>>> from zoo.models.text.decoding import GenerationOptions
>>> backbone = keras_hub.models.T5Backbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
...                                        intermediate_dim=32)
>>> lm = keras_hub.models.T5Seq2SeqLM(backbone)
>>> decode = tf.function(lambda ids, mask: t5_generate(lm, ids, mask, GenerationOptions(max_new_tokens=5,
...                                                    num_beams=3, num_return_sequences=2), bound=5),
...                      input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
>>> tokens, scores = decode(tf.constant([[7, 8, 1], [9, 1, 0]]), tf.constant([[1, 1, 1], [1, 1, 0]]))
>>> tokens.shape.as_list(), scores.shape.as_list()
([2, 2, 5], [2, 2])
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.models.text.decoding import GenerationOptions, attention_weights, decode, head_major
from zoo.models.text.sentencepiece_vocab import EOS_ID, PAD_ID

_MASKED = -1e9  # added to the scores of positions a query must not see, as KerasHub's T5 does


def t5_generate(lm, encoder_token_ids: tf.Tensor, encoder_padding_mask: tf.Tensor, options: GenerationOptions,
                bound: int, eos_id: int | tf.Tensor = EOS_ID, cache: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
    """Token ids int32 [batch, R, max_new_tokens] (eos included, ``pad`` after it) and scores float32 [batch, R].

    ``lm`` is a ``keras_hub.models.T5Seq2SeqLM``; the decoder starts from ``pad``, as T5's does. ``bound`` is the
    most new tokens any call may ask for (the self-attention cache's size). ``cache`` chooses the key/value cache
    (constant work per step) over recomputing the prefix.
    """
    if bound < 1:
        raise ValueError(f"bound must be at least 1, got {bound}")
    backbone = lm.backbone
    encoder_states = lm.call_encoder(encoder_token_ids, encoder_padding_mask)
    cross_caches = [_keys_and_values(layer.cross_attention, encoder_states)
                    for layer in backbone.decoder_transformer_layers]
    build = _cached_steps if cache else _recomputing_steps

    def steps(fan):
        def repeated(tensor):
            return tf.repeat(tensor, fan, axis=0)

        return build(lm, repeated(encoder_states), repeated(encoder_padding_mask),
                     [(repeated(keys), repeated(values)) for keys, values in cross_caches], bound)

    return decode(steps, tf.shape(encoder_token_ids)[0], options, bound, eos_id, PAD_ID, PAD_ID)


def t5_greedy(lm, encoder_token_ids, encoder_padding_mask, max_length: int, eos_id: int | tf.Tensor = EOS_ID,
              cache: bool = True) -> tf.Tensor:
    """int32 [batch, max_length]: :func:`t5_generate`'s greedy tokens, one row per input."""
    options = GenerationOptions(max_new_tokens=max_length)
    tokens, _ = t5_generate(lm, encoder_token_ids, encoder_padding_mask, options, max_length, eos_id, cache)
    return tokens[:, 0, :]


# Each builder below returns a step for decoding.decode and its initial state, for as many rows as
# ``encoder_states`` has (each input already repeated once per beam or sampled sequence).
def _cached_steps(lm, encoder_states, encoder_padding_mask, cross_caches, max_length):
    """Steps that feed one token and keep every layer's self-attention keys and values at fixed size."""
    backbone = lm.backbone
    layers = backbone.decoder_transformer_layers
    first = layers[0].self_attention
    # Relative position bias of every (query, key) pair, later keys masked: row i is step i's bias.
    causal = tf.linalg.band_part(tf.ones([max_length, max_length]), -1, 0)
    self_bias = tf.cast(first.compute_bias(max_length, max_length), tf.float32) + (1.0 - causal) * _MASKED
    cross_bias = (1.0 - tf.cast(encoder_padding_mask, tf.float32))[:, tf.newaxis, tf.newaxis, :] * _MASKED
    cross_caches = [(head_major(keys), head_major(values)) for keys, values in cross_caches]  # once, not per step
    rows = tf.shape(encoder_states)[0]
    empty = tf.zeros([rows, first.num_heads, max_length, first.key_value_dim], encoder_states.dtype)

    def step(index, tokens, generated, caches):
        x = backbone.token_embedding(tokens[:, tf.newaxis])  # [batch, 1, hidden]
        bias = self_bias[:, :, index:index + 1, :]
        here = tf.one_hot(index, max_length, on_value=True, off_value=False)[tf.newaxis, tf.newaxis, :, tf.newaxis]
        updated = []
        for layer, (keys, values), (cross_keys, cross_values) in zip(layers, caches, cross_caches):
            attention = layer.self_attention
            normed = layer.self_attention_layer_norm(x)
            new_keys, new_values = (head_major(t) for t in _keys_and_values(attention, normed))
            keys, values = tf.where(here, new_keys, keys), tf.where(here, new_values, values)
            updated.append((keys, values))
            x = x + _attend(attention, normed, keys, values, bias)
            normed = layer.cross_attention_layer_norm(x)
            x = x + _attend(layer.cross_attention, normed, cross_keys, cross_values, cross_bias)
            x = x + _feed_forward(layer, layer.layer_norm(x))
        return lm._logits(backbone.decoder_layer_norm(x))[:, 0, :], updated

    return step, [(empty, empty) for _ in layers]


def _recomputing_steps(lm, encoder_states, encoder_padding_mask, cross_caches, max_length):
    """Steps that run the decoder layers over the start token and everything generated so far."""
    backbone = lm.backbone
    encoder_attention_mask = encoder_padding_mask[:, tf.newaxis, :]

    def step(index, tokens, generated, state):
        prefix = tf.concat([tf.fill([tf.shape(generated)[0], 1], PAD_ID), generated[:, :index]], axis=1)
        x = backbone.token_embedding(prefix)
        position_bias = None
        for layer, cross_cache in zip(backbone.decoder_transformer_layers, cross_caches):
            x, position_bias = layer(x, position_bias=position_bias, encoder_hidden_states=encoder_states,
                                     encoder_attention_mask=encoder_attention_mask, use_causal_mask=True,
                                     cross_attention_cache=tf.stack(cross_cache, axis=1))
        return lm._logits(backbone.decoder_layer_norm(x[:, -1:, :]))[:, 0, :], state

    return step, ()


def _heads(attention, states: tf.Tensor) -> tf.Tensor:
    """[batch, length, heads * head_dim] → [batch, length, heads, head_dim]."""
    return tf.reshape(states, [tf.shape(states)[0], -1, attention.num_heads, attention.key_value_dim])


def _keys_and_values(attention, states: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A KerasHub T5 attention layer's keys and values of ``states``, each [batch, length, heads, head_dim]."""
    return _heads(attention, attention.key_projector(states)), _heads(attention, attention.value_projector(states))


def _attend(attention, queries_from: tf.Tensor, keys: tf.Tensor, values: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
    """T5 attention (no score scaling; ``bias`` holds relative positions and masks) over head-major ``keys`` and
    ``values`` [batch, heads, length, head_dim], and its output projection."""
    queries = head_major(_heads(attention, attention.query_projector(queries_from)))  # [batch, heads, 1, head_dim]
    scores = tf.matmul(queries, keys, transpose_b=True)  # [batch, heads, 1, length]
    mixed = tf.transpose(tf.matmul(attention_weights(scores, bias), values), [0, 2, 1, 3])
    return attention.output_projector(tf.reshape(mixed, [tf.shape(mixed)[0], -1, attention.inner_dim]))


def _feed_forward(layer, normed: tf.Tensor) -> tf.Tensor:
    """A KerasHub T5 layer's feed-forward block (gated or not) on layer-normed input, before the residual."""
    hidden = layer.input_projector(normed)
    if layer.use_gated_activation:
        hidden = hidden * layer.gate_projector(normed)
    return layer.output_projector(hidden)

def keras_hub_greedy(lm, encoder_token_ids, encoder_padding_mask, max_length: int, eos_id: int = EOS_ID) -> np.ndarray:
    """The reference: ``lm.generate`` with a greedy sampler, laid out as :func:`t5_greedy`'s output.

    ``lm`` must be compiled with ``sampler="greedy"``. Runs KerasHub's own (eager-called) generation on token
    ids; positions after each row's ``eos`` are ``pad``.
    """
    batch = len(encoder_token_ids)
    prompt = np.full((batch, max_length + 1), PAD_ID, np.int32)  # the start token, then room for the output
    prompt_mask = np.zeros_like(prompt)
    prompt_mask[:, 0] = 1
    out = lm.generate(
        {"encoder_token_ids": encoder_token_ids, "encoder_padding_mask": encoder_padding_mask,
         "decoder_token_ids": prompt, "decoder_padding_mask": prompt_mask},
        stop_token_ids=(int(eos_id),),
    )
    return np.where(out["decoder_padding_mask"], out["decoder_token_ids"], PAD_ID)[:, 1:].astype(np.int32)
