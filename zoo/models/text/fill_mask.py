"""The ``fill_mask`` serving signature: ``text`` with ``[MASK]`` → the top ``k`` tokens for its first ``[MASK]``.

What Hugging Face's ``fill-mask`` pipeline answers, as a graph of stock TF ops (tensorflow-text's WordPiece
included) that TF Serving runs:

- ``text`` DT_STRING [batch] → ``tokens`` DT_STRING [batch, k] (vocabulary entries, e.g. ``"paris"``,
  ``"##s"``) and ``scores`` DT_FLOAT [batch, k] (softmax probabilities over the whole vocabulary, highest
  first) at the *first* ``[MASK]`` of each text.
- ``[MASK]`` is matched in the raw text exactly as the checkpoint's ``tokenizer.json`` matches it (an added
  special token: case-sensitive, before normalisation, so ``[mask]`` is ordinary text), which
  :class:`zoo.models.text.wordpiece.WordpieceTokenizer` does for every special token; the ids equal the Hugging
  Face tokenizer's.
- A text with no ``[MASK]`` — or whose first ``[MASK]`` falls beyond ``sequence_length`` tokens and is cut
  off — gets ``k`` empty strings with score 0 (the pipeline raises an error there; a served batch must not
  fail because of one row). Later ``[MASK]`` tokens stay masked in the input, as in the pipeline.

Example:

>>> model = load_bert_masked_lm("bert-base-uncased/")                             # doctest: +SKIP
>>> fill = FillMask(model, WordpieceTokenizer(vocabulary, sequence_length=128), top_k=2)  # doctest: +SKIP
>>> fill(tf.constant(["The capital of France is [MASK].", "no mask"]))            # doctest: +SKIP
{'tokens': [[b'paris', b'lille'], [b'', b'']], 'scores': [[0.42, 0.07], [0.0, 0.0]]}

The tokenizer keeps a literal ``[MASK]`` whole (runs without a model):

>>> tokenizer = WordpieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"], sequence_length=8)
>>> tokenizer(tf.constant(["a [MASK] b [MASK]", "[mask]", ""]))["token_ids"].numpy().tolist()
[[2, 5, 4, 6, 4, 3], [2, 1, 1, 1, 3, 0], [2, 3, 0, 0, 0, 0]]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from zoo.models.text.masked_lm import MaskedLM
from zoo.models.text.wordpiece import WordpieceTokenizer

MASK_TOKEN = "[MASK]"


class FillMask(tf.Module):
    """Raw text → ``tokens`` and ``scores`` of the ``top_k`` most probable fillers of each text's first ``[MASK]``."""

    def __init__(self, model: MaskedLM, tokenizer: WordpieceTokenizer, top_k: int = 5,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        vocabulary_size = model.head.vocabulary_size
        if tokenizer.vocabulary_size > vocabulary_size:
            raise ValueError(f"the tokenizer has {tokenizer.vocabulary_size} tokens, more than the "
                             f"model's {vocabulary_size}")
        if not 1 <= top_k <= vocabulary_size:
            raise ValueError(f"top_k must be between 1 and the vocabulary size {vocabulary_size}, got {top_k}")
        self.model, self.tokenizer, self.top_k = model, tokenizer, top_k
        names = list(tokenizer.vocabulary) + [""] * (vocabulary_size - tokenizer.vocabulary_size)
        self.token_strings = tf.constant(names)

    def __call__(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        inputs = self.tokenizer(text)  # a literal [MASK] is the mask id, as in tokenizer.json
        is_mask = tf.equal(inputs["token_ids"], self.tokenizer.mask_id)
        has_mask = tf.reduce_any(is_mask, axis=1, keepdims=True)
        first = tf.argmax(tf.cast(is_mask, tf.int32), axis=1, output_type=tf.int32)
        logits = self.model.logits(inputs, first[:, tf.newaxis])[:, 0, :]
        scores, ids = tf.math.top_k(tf.nn.softmax(tf.cast(logits, tf.float32)), k=self.top_k)
        return {"tokens": tf.where(has_mask, tf.gather(self.token_strings, ids), ""),
                "scores": tf.where(has_mask, scores, 0.0)}


def masked_examples(texts: Sequence[str], words: int = 8) -> np.ndarray:
    """Warmup texts with a ``[MASK]`` early enough to survive truncation: the first ``words`` words + `` [MASK].``

    >>> masked_examples(["Shares rose sharply on Tuesday after the results"], words=3).tolist()
    [b'Shares rose sharply [MASK].']
    """
    return np.array([(" ".join(t.split()[:words]) + f" {MASK_TOKEN}.").encode("utf-8") for t in texts], dtype=object)
