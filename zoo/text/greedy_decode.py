"""Greedy decoding for KerasHub's ``T5Seq2SeqLM`` that traces with an open batch dimension.

``T5Seq2SeqLM.generate`` cannot be exported with a ``None`` batch dimension (its sampler squeezes an axis
whose static size is lost, "Cannot squeeze axis=1"). :func:`greedy_decode` is a ``tf.while_loop`` over
decoder steps built on the model's own ``call_encoder`` and ``call_decoder_with_cache``: the encoder runs
once, the cross-attention keys/values are computed at the first step and reused, and the self-attention
key/value cache grows one position per step. The loop stops when every row has produced ``eos`` or after
``max_length`` tokens. It computes the same thing as ``generate`` with a greedy sampler, token for token.

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
    head_dim = backbone.key_value_dim or backbone.hidden_dim // backbone.num_heads
    cache_shape = [backbone.num_layers, 2, max_length, backbone.num_heads, head_dim]
    self_cache = tf.zeros(tf.concat([[batch], cache_shape], 0), lm.compute_dtype)
    cross_shape = [backbone.num_layers, 2, tf.shape(encoder_token_ids)[1], backbone.num_heads, head_dim]
    cross_cache = tf.zeros(tf.concat([[batch], cross_shape], 0), lm.compute_dtype)

    def step(tokens, index, self_cache, cross_cache, cross_cache_index):
        logits, _, self_cache, cross_cache = lm.call_decoder_with_cache(
            encoder_hidden_states=encoder_states,
            encoder_padding_mask=encoder_padding_mask,
            decoder_token_ids=tokens[:, tf.newaxis],
            self_attention_cache=self_cache,
            self_attention_cache_update_index=index,
            cross_attention_cache=cross_cache,
            cross_attention_cache_update_index=cross_cache_index,
        )
        return tf.argmax(logits[:, 0, :], axis=-1, output_type=tf.int32), self_cache, cross_cache

    # Step 0 fills the cross-attention cache; later steps only read it.
    first, self_cache, cross_cache = step(tf.fill([batch], start_id), 0, self_cache, cross_cache, 0)
    outputs = tf.TensorArray(tf.int32, size=max_length, element_shape=tf.TensorShape([None])).write(0, first)

    def body(index, previous, finished, outputs, self_cache):
        tokens, self_cache, _ = step(previous, index, self_cache, cross_cache, None)
        tokens = tf.where(finished, start_id, tokens)
        return index + 1, tokens, finished | tf.equal(tokens, eos_id), outputs.write(index, tokens), self_cache

    def not_done(index, previous, finished, outputs, self_cache):
        return (index < max_length) & ~tf.reduce_all(finished)

    last_index, _, _, outputs, _ = tf.while_loop(
        not_done, body, (tf.constant(1), first, tf.equal(first, eos_id), outputs, self_cache)
    )
    tokens = tf.transpose(outputs.gather(tf.range(last_index)))  # [batch, steps taken]
    tokens = tf.pad(tokens, [[0, 0], [0, max_length - last_index]], constant_values=start_id)
    return tf.ensure_shape(tokens, [None, max_length])
