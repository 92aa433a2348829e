"""Greedy decoding for KerasHub's ``T5Seq2SeqLM`` that traces with an open batch and serves with stock ops.

``T5Seq2SeqLM.generate`` cannot be exported with a ``None`` batch dimension (its sampler squeezes an axis
whose static size is lost, "Cannot squeeze axis=1"), and its self-attention cache is updated with
``XlaDynamicUpdateSlice``, an op the stock model server does not run. :func:`greedy_decode` is a
``tf.while_loop`` over decoder steps built from the model's own layers: the encoder runs once, each decoder
layer's cross-attention keys and values are projected once and passed to the layer as a static cache, and
the decoder self-attention is recomputed over the prefix generated so far (outputs are short; correctness
first). The loop stops when every row has produced ``eos`` or after ``max_length`` tokens. It picks the
same tokens as ``generate`` with a greedy sampler (tested against :func:`keras_hub_greedy`).

Example:

>>> import keras_hub, tensorflow as tf
>>> backbone = keras_hub.models.T5Backbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
...                                        intermediate_dim=32)
>>> lm = keras_hub.models.T5Seq2SeqLM(backbone)
>>> decode = tf.function(lambda ids, mask: greedy_decode(lm, ids, mask, max_length=5),
...                      input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
>>> decode(tf.constant([[7, 8, 1], [9, 1, 0]]), tf.constant([[1, 1, 1], [1, 1, 0]])).shape.as_list()
[2, 5]
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from zoo.text.sentencepiece_vocab import EOS_ID, PAD_ID


def greedy_decode(lm, encoder_token_ids: tf.Tensor, encoder_padding_mask: tf.Tensor, max_length: int,
                  eos_id: int | tf.Tensor = EOS_ID, start_id: int = PAD_ID) -> tf.Tensor:
    """int32 [batch, max_length]: the argmax continuation of each row, ``eos`` included, ``pad`` after it.

    ``lm`` is a ``keras_hub.models.T5Seq2SeqLM``; the decoder starts from ``start_id`` (T5 uses ``pad``).
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    backbone = lm.backbone
    batch = tf.shape(encoder_token_ids)[0]
    encoder_states = lm.call_encoder(encoder_token_ids, encoder_padding_mask)
    encoder_attention_mask = encoder_padding_mask[:, tf.newaxis, :]
    cross_caches = [_cross_attention_cache(layer.cross_attention, encoder_states)
                    for layer in backbone.decoder_transformer_layers]

    def next_tokens(prefix):
        x = backbone.decoder_embedding_dropout(backbone.token_embedding(prefix))
        position_bias = None
        for layer, cross_cache in zip(backbone.decoder_transformer_layers, cross_caches):
            x, position_bias = layer(x, position_bias=position_bias, encoder_hidden_states=encoder_states,
                                     encoder_attention_mask=encoder_attention_mask, use_causal_mask=True,
                                     cross_attention_cache=cross_cache)
        x = backbone.decoder_dropout(backbone.decoder_layer_norm(x[:, -1:, :]))
        logits = lm._logits(x)  # KerasHub's LM head (T5's rescaling, tied embedding), as generate() uses it
        return tf.argmax(logits[:, 0, :], axis=-1, output_type=tf.int32)

    start = tf.fill([batch, 1], start_id)

    def body(generated, finished):
        tokens = tf.where(finished, start_id, next_tokens(tf.concat([start, generated], axis=1)))
        return tf.concat([generated, tokens[:, tf.newaxis]], axis=1), finished | tf.equal(tokens, eos_id)

    def not_done(generated, finished):
        return (tf.shape(generated)[1] < max_length) & ~tf.reduce_all(finished)

    generated, _ = tf.while_loop(
        not_done, body, (tf.zeros([batch, 0], tf.int32), tf.zeros([batch], tf.bool)),
        shape_invariants=(tf.TensorShape([None, None]), tf.TensorShape([None])),
    )
    tokens = tf.pad(generated, [[0, 0], [0, max_length - tf.shape(generated)[1]]], constant_values=start_id)
    return tf.ensure_shape(tokens, [None, max_length])


def _cross_attention_cache(attention, encoder_states: tf.Tensor) -> tf.Tensor:
    """[batch, 2, source_length, heads, head_dim]: a T5 attention layer's keys and values of the encoder output."""
    batch = tf.shape(encoder_states)[0]

    def heads(states):
        return tf.reshape(states, [batch, -1, attention.num_heads, attention.key_value_dim])

    keys = heads(attention.key_projector(encoder_states))
    return tf.stack([keys, heads(attention.value_projector(encoder_states))], axis=1)

def keras_hub_greedy(lm, encoder_token_ids, encoder_padding_mask, max_length: int, eos_id: int = EOS_ID) -> np.ndarray:
    """The reference: ``lm.generate`` with a greedy sampler, laid out as :func:`greedy_decode`'s output.

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
