"""Pretraining data for text encoders: documents cut into windows that fit, and endless masked-LM batches.

Both objectives (:class:`zoo.models.text.masked_lm.MaskedLM` and :class:`zoo.models.text.electra.ElectraPretrainer`)
read the same batches from :func:`masked_lm_dataset` — ``token_ids`` with 15% of the real tokens selected (80% →
``[MASK]``, 10% random, 10% kept), ``mask_positions``, and the original ``mask_ids`` with ``mask_weights`` as
target and sample weight — so at equal steps and batch size they see the same data.

Example:

>>> tokenizer = WordpieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"], sequence_length=8)
>>> features, mask_ids, mask_weights = next(iter(masked_lm_dataset(["a b a b a b"] * 4, tokenizer, 2, seed=0)))
>>> sorted(features), mask_ids.shape.as_list()
(['mask_positions', 'padding_mask', 'segment_ids', 'token_ids'], [2, 1])
"""

from __future__ import annotations

from typing import Sequence

import keras_hub
import numpy as np
import tensorflow as tf

from zoo.models.text.wordpiece import WordpieceTokenizer


def text_windows(texts: Sequence[str], words: int) -> list[str]:
    """Each text cut into consecutive windows of ``words`` whitespace-separated words (the last may be shorter).

    Pretraining reads ``sequence_length`` tokens per document; cutting long articles into windows that fit lets
    it read all of each article instead of its first sentences.

    >>> text_windows(["a b c d e", "f"], words=2)
    ['a b', 'c d', 'e', 'f']
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, got {words}")
    windows = []
    for text in texts:
        tokens = text.split()
        windows.extend(" ".join(tokens[i:i + words]) for i in range(0, len(tokens), words))
    return windows


def masked_lm_dataset(
    texts: Sequence[str], tokenizer: WordpieceTokenizer, batch_size: int, seed: int, mask_rate: float = 0.15,
) -> tf.data.Dataset:
    """An endless, shuffled ``(inputs, mask_ids, mask_weights)`` dataset of masked-LM batches over ``texts``."""
    max_selections = max(1, int(round(tokenizer.sequence_length * mask_rate)))
    masker = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size, mask_selection_rate=mask_rate, mask_token_id=tokenizer.mask_id,
        mask_selection_length=max_selections,
        unselectable_token_ids=[tokenizer.pad_id, tokenizer.cls_id, tokenizer.sep_id],
    )

    def mask(batch):
        inputs = tokenizer(batch)
        masked = masker(inputs["token_ids"])
        features = {
            "token_ids": masked["token_ids"],
            "segment_ids": inputs["segment_ids"],
            "padding_mask": inputs["padding_mask"],
            "mask_positions": tf.cast(masked["mask_positions"], tf.int32),
        }
        return features, tf.cast(masked["mask_ids"], tf.int32), tf.cast(masked["mask_weights"], tf.float32)

    documents = np.array(list(texts), dtype=object)
    return (
        tf.data.Dataset.from_tensor_slices(documents)
        .shuffle(len(documents), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size, drop_remainder=True)
        .map(mask, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
