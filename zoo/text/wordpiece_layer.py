"""In-graph WordPiece tokenization of raw strings (tensorflow-text ``FastBertTokenizer``), as a Keras layer.

Because it is a layer of the model, an exported model takes raw text: no client-side tokenizer. Only core
TensorFlow and tensorflow-text ops are used, so TF Serving runs it. Any input string is accepted:

- bytes that are not valid UTF-8 become U+FFFD before tokenizing;
- input is cut to ``max_input_bytes`` first (a very long request costs bounded work), and ids to
  ``sequence_length``;
- every row starts with ``[CLS]`` and ends with ``[SEP]``, so even an empty string gives a non-empty sequence.

Example:

>>> import tensorflow as tf
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat", "##s"]
>>> layer = WordPieceTokenizer(vocab, sequence_length=6)
>>> layer(tf.constant(["The cats sat", ""])).numpy().tolist()
[[2, 4, 5, 7, 6, 3], [2, 3, 0, 0, 0, 0]]
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_text as tf_text


class WordPieceTokenizer(keras.layers.Layer):
    """Strings [batch] → int32 ids [batch, sequence_length]: ``[CLS] pieces… [SEP]`` then ``[PAD]`` (id 0 expected).

    ``lowercase`` applies BERT's uncased normalisation (lower case, NFD, accents stripped).
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        sequence_length: int = 256,
        lowercase: bool = True,
        max_input_bytes: int = 1 << 16,
        **kwargs,
    ) -> None:
        super().__init__(trainable=False, **kwargs)
        self.vocabulary = list(vocabulary)
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.max_input_bytes = max_input_bytes
        if sequence_length < 3:
            raise ValueError("sequence_length must leave room for [CLS], one token and [SEP]")
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in self.vocabulary]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {missing}")
        if self.vocabulary.index("[PAD]") != 0:
            raise ValueError("[PAD] must be id 0 (padding doubles as the mask)")
        self._cls = self.vocabulary.index("[CLS]")
        self._sep = self.vocabulary.index("[SEP]")
        self._tokenizer = tf_text.FastBertTokenizer(
            vocab=self.vocabulary, token_out_type=tf.int32, lower_case_nfd_strip_accents=lowercase
        )

    def call(self, texts):
        texts = tf.strings.substr(tf.reshape(texts, [-1]), 0, self.max_input_bytes)
        texts = tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        pieces = self._tokenizer.tokenize(texts)[:, : self.sequence_length - 2]
        rows = pieces.nrows()
        ids = tf.concat(
            [tf.fill([rows, 1], self._cls), pieces, tf.fill([rows, 1], self._sep)], axis=1
        )
        return ids.to_tensor(default_value=0, shape=[None, self.sequence_length])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.sequence_length)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary,
            "sequence_length": self.sequence_length,
            "lowercase": self.lowercase,
            "max_input_bytes": self.max_input_bytes,
        }
