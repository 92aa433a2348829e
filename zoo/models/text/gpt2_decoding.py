"""GPT-2 generation: KerasHub's ``GPT2Backbone`` decoded by :mod:`zoo.models.text.decoding`, open batch, stock ops.

Prompts come left-padded (each row's tokens at the end, ``padding_mask`` 0 before them), as Hugging Face batches
them for ``generate``; position ids are counted from the mask (``cumsum(mask) - 1``), so a prompt gets the same
positions, and the same tokens, alone and in a batch. The prompt runs once through every layer (the *prefill*),
which yields the first logits and each layer's keys and values; they open a key/value cache of fixed size
[rows, heads, prompt + bound, head_dim] per layer (head-major: :func:`~zoo.models.text.decoding.head_major`). Each
later step feeds one token, writes its key and value at its position with a one-hot ``SelectV2`` (KerasHub's cached
attention updates with ``XlaDynamicUpdateSlice``, an op the stock model server does not run) and attends over the
whole cache with the padding and the future masked.

Example:

>>> import keras_hub, tensorflow as tf
>>> from zoo.models.text.decoding import GenerationOptions
>>> backbone = keras_hub.models.GPT2Backbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=16,
...                                          intermediate_dim=32, max_sequence_length=32)
>>> ids, mask = left_padded(tf.constant([[7, 8, 9], [5, 0, 0]]), tf.constant([[1, 1, 1], [1, 0, 0]]))
>>> ids.numpy().tolist()
[[7, 8, 9], [0, 0, 5]]
>>> tokens, scores = gpt2_generate(backbone, ids, mask, GenerationOptions(max_new_tokens=4, num_beams=2),
...                                bound=4, eos_id=49)
>>> tokens.shape.as_list(), scores.shape.as_list()
([2, 1, 4], [2, 1])
"""

from __future__ import annotations

import math

import tensorflow as tf

from zoo.models.text.decoding import GenerationOptions, attention_weights, decode, head_major

_MASKED = -1e9


def left_padded(token_ids: tf.Tensor, padding_mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Right-padded rows (tokens first, as a tokenizer pads) moved to the right end of the row, padding first."""
    length = tf.shape(token_ids)[1]
    shift = length - tf.reduce_sum(tf.cast(padding_mask, tf.int32), axis=1, keepdims=True)
    source = (tf.range(length)[tf.newaxis, :] - shift) % length
    return tf.gather(token_ids, source, batch_dims=1), tf.gather(padding_mask, source, batch_dims=1)


def positions_of(padding_mask: tf.Tensor) -> tf.Tensor:
    """Position ids from the mask of left-padded rows: 0 at each row's first token (padding gets 0 too)."""
    return tf.maximum(tf.cumsum(tf.cast(padding_mask, tf.int32), axis=1) - 1, 0)


def gpt2_logits(backbone, token_ids: tf.Tensor, padding_mask: tf.Tensor) -> tf.Tensor:
    """float32 [batch, length, vocabulary]: the next-token logits at every position of left-padded rows (what scoring
    a text needs; padding positions hold logits too, to be masked by the caller)."""
    hidden, _, _ = _prefill(backbone, token_ids, tf.cast(padding_mask, tf.bool))
    return _logits(backbone, hidden)


def gpt2_generate(backbone, token_ids: tf.Tensor, padding_mask: tf.Tensor, options: GenerationOptions, bound: int,
                  eos_id: int | tf.Tensor, pad_id: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """Continuations of left-padded prompts: token ids int32 [batch, R, max_new_tokens] (``pad_id`` after eos) and
    scores float32 [batch, R] (see :func:`~zoo.models.text.decoding.decode`). ``bound`` is the most new tokens any
    call may ask for (the cache's room past the prompt)."""
    if bound < 1:
        raise ValueError(f"bound must be at least 1, got {bound}")
    mask = tf.cast(padding_mask, tf.bool)
    prompt_length = tf.shape(token_ids)[1]
    hidden, keys, values = _prefill(backbone, token_ids, mask)
    first_logits = _logits(backbone, hidden[:, -1:, :])[:, 0, :]
    room = tf.zeros(tf.concat([tf.shape(keys[0])[:2], [bound], tf.shape(keys[0])[3:]], axis=0), keys[0].dtype)
    caches = [(tf.concat([k, room], axis=2), tf.concat([v, room], axis=2)) for k, v in zip(keys, values)]
    prompt_tokens = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)

    def steps(fan):
        def repeated(tensor):
            return tf.repeat(tensor, fan, axis=0)

        return _cached_steps(backbone, repeated(first_logits), repeated(mask), repeated(prompt_tokens), prompt_length,
                             bound), [(repeated(k), repeated(v)) for k, v in caches]

    return decode(steps, tf.shape(token_ids)[0], options, bound, eos_id, pad_id, pad_id)


def _prefill(backbone, token_ids, mask):
    """The prompt through every layer: the last hidden states [batch, prompt, hidden] and each layer's keys and
    values [batch, heads, prompt, head_dim]."""
    length = tf.shape(token_ids)[1]
    causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
    allowed = causal[tf.newaxis, :, :] & mask[:, tf.newaxis, :]
    bias = tf.where(allowed, 0.0, _MASKED)[:, tf.newaxis, :, :]  # [batch, 1, query, key]
    x = _embedded(backbone, token_ids, positions_of(mask))
    keys, values = [], []
    for layer in backbone.transformer_layers:
        x, k, v = _block(layer, x, bias)
        keys.append(k)
        values.append(v)
    return x, keys, values


def _cached_steps(backbone, first_logits, mask, prompt_tokens, prompt_length, bound):
    """The step decode calls: at index 0 the prefill's logits; at index i > 0 the token chosen at i - 1, at cache
    slot ``prompt_length + i - 1`` and position ``prompt_tokens + i - 1``."""
    slots = prompt_length + bound
    slot_ids = tf.range(slots)
    prompt_keys = tf.concat([mask, tf.zeros([tf.shape(mask)[0], bound], tf.bool)], axis=1)  # [rows, slots]

    def one_token(index, tokens, caches):
        slot = prompt_length + index - 1
        x = _embedded(backbone, tokens[:, tf.newaxis], (prompt_tokens + index - 1)[:, tf.newaxis])
        visible = prompt_keys | ((slot_ids >= prompt_length) & (slot_ids <= slot))[tf.newaxis, :]
        bias = tf.where(visible, 0.0, _MASKED)[:, tf.newaxis, tf.newaxis, :]
        here = tf.equal(slot_ids, slot)[tf.newaxis, tf.newaxis, :, tf.newaxis]
        updated = []
        for layer, (keys, values) in zip(backbone.transformer_layers, caches):
            x, keys, values = _block(layer, x, bias, (keys, values, here))
            updated.append((keys, values))
        return _logits(backbone, x)[:, 0, :], updated

    def step(index, tokens, generated, caches):
        return tf.cond(tf.equal(index, 0), lambda: (first_logits, caches), lambda: one_token(index, tokens, caches))

    return step


def _embedded(backbone, token_ids, positions):
    """Token plus position embeddings (dropout is off when generating), in the layers' compute dtype."""
    tokens = backbone.token_embedding(token_ids)
    table = backbone.position_embedding.position_embeddings
    return tokens + tf.cast(tf.gather(tf.convert_to_tensor(table), positions), tokens.dtype)


def _block(layer, x, bias, cache=None):
    """One pre-norm GPT-2 block on ``x`` [rows, queries, hidden]: the new ``x`` and the keys and values attended.

    Without ``cache`` the keys and values are ``x``'s own; with ``(keys, values, here)`` the new ones are written
    where ``here`` is true and the whole cache is attended.
    """
    attention = layer._self_attention_layer
    normed = layer._self_attention_layer_norm(x)
    queries = head_major(attention._query_dense(normed))
    keys, values = head_major(attention._key_dense(normed)), head_major(attention._value_dense(normed))
    if cache is not None:
        cached_keys, cached_values, here = cache
        keys, values = tf.where(here, keys, cached_keys), tf.where(here, values, cached_values)
    scores = tf.matmul(queries, keys, transpose_b=True) / math.sqrt(attention._key_dim)
    mixed = tf.transpose(tf.matmul(attention_weights(scores, bias), values), [0, 2, 1, 3])
    x = x + attention._output_dense(mixed)
    hidden = layer._feedforward_intermediate_dense(layer._feedforward_layer_norm(x))
    return x + layer._feedforward_output_dense(hidden), keys, values


def _logits(backbone, x):
    """The final layer norm, then the tied embedding reversed: float32 [rows, queries, vocabulary]."""
    return tf.cast(backbone.token_embedding(backbone.layer_norm(x), reverse=True), tf.float32)
