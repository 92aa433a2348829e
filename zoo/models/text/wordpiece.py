"""BERT WordPiece tokenisation inside the TensorFlow graph, matching Hugging Face's ``BertTokenizerFast``.

:class:`WordpieceTokenizer` turns a batch of raw strings into the three int32 inputs a BERT/ELECTRA
backbone takes (``token_ids``, ``segment_ids``, ``padding_mask``) with tensorflow-text's
``FastBertTokenizer``, an op the stock ``tensorflow_model_server`` links, so exported models take raw text.

tensorflow-text's own normaliser lower-cases with ``NFKC_Casefold`` (``ß`` → ``ss``, ``ﬁ`` → ``fi``, full
width ``Ａ`` → ``a``), which differs from the ``BertNormalizer`` of a checkpoint's ``tokenizer.json``
(drop control characters, NFD, drop combining marks, then a plain lower-case). So the normalisation is
written here with core string ops in that order, and tensorflow-text only splits words and applies
WordPiece. ``tests/test_wordpiece.py`` checks the ids against ``tokenizers`` on accents, punctuation, CJK,
ligatures, control characters, the empty string and over-long text.

Any input string is accepted: bytes that are not valid UTF-8 become U+FFFD (which the normaliser then drops),
and each string is cut to ``max_input_bytes`` first, so a huge request costs bounded work. The ``recipes/lstm``
model uses the same tokenizer as a Keras layer, :class:`WordpieceLayer`, padded to a fixed length.

A special token typed in the text (``[MASK]``, ``[CLS]``, ``[SEP]``, ``[PAD]``, ``[UNK]``, exactly so cased) is
kept as its id, as ``BertTokenizerFast`` keeps a checkpoint's added tokens: the raw text is split around them
(tensorflow-text's ``regex_split``) before normalisation, and each piece between them is a text of its own, so
``"x[MASK]s"`` gives ``x [MASK] s``, not ``x [MASK] ##s``. ``[mask]`` or ``[ MASK ]`` are ordinary text.

Example:

>>> tokenizer = WordpieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"],
...                                sequence_length=6)
>>> inputs = tokenizer(tf.constant(["Hello, World!", ""]))
>>> inputs["token_ids"].numpy().tolist()
[[2, 5, 1, 6, 7, 3], [2, 3, 0, 0, 0, 0]]
>>> inputs["padding_mask"].numpy().tolist()
[[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]]
>>> tokenizer(tf.constant(["Hello [MASK]!"]))["token_ids"].numpy().tolist()
[[2, 5, 4, 7, 3]]
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_text as tf_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: Any special token, as typed: the text is split around these before it is normalised.
_SPECIAL_PATTERN = "|".join(re.escape(token) for token in SPECIAL_TOKENS)
#: What :meth:`WordpieceTokenizer.pack` returns and a KerasHub BERT/ELECTRA backbone takes.
BACKBONE_INPUTS = ("token_ids", "segment_ids", "padding_mask")


def read_vocabulary(path: str | Path) -> list[str]:
    """The tokens of a BERT ``vocab.txt``, one per line, in id order."""
    tokens = Path(path).read_text(encoding="utf-8").splitlines()
    missing = [t for t in SPECIAL_TOKENS if t not in tokens]
    if missing:
        raise ValueError(f"{path} is not a BERT WordPiece vocabulary: it lacks {', '.join(missing)}")
    return tokens


def normalize_bert_text(text: tf.Tensor, lowercase: bool = True) -> tf.Tensor:
    """Hugging Face's ``BertNormalizer`` with core string ops: clean control characters, strip accents, lower-case.

    >>> normalize_bert_text(tf.constant(["Café\\tStraße\\x00!"])).numpy()[0].decode()
    'cafe straße!'
    """
    text = tf.strings.regex_replace(text, r"[\t\n\r]", " ")
    text = tf.strings.regex_replace(text, r"[\p{C}\x{FFFD}]", "")  # controls, format chars (soft hyphen, ZWSP), NUL
    if not lowercase:
        return text
    text = tf_text.normalize_utf8(text, "NFD")
    text = tf.strings.regex_replace(text, r"\p{Mn}", "")
    return tf.strings.lower(text, encoding="utf-8")


class WordpieceTokenizer(tf.Module):
    """Raw strings → ``[CLS] pieces… [SEP]`` ids, padded to the longest text in the batch.

    Texts longer than ``sequence_length - 2`` pieces are truncated, as ``tokenizer.json``'s
    ``max_length`` truncation does. Outputs are int32 [batch, ≤ sequence_length] (exactly
    ``sequence_length`` with ``pad_to_length``); ``segment_ids`` are 0.
    The vocabulary is stored in the graph, so a SavedModel holding this module needs no files beside it.
    """

    def __init__(self, vocabulary: Sequence[str], sequence_length: int = 128, lowercase: bool = True,
                 max_input_bytes: int = 1 << 16, pad_to_length: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        if sequence_length < 2:
            raise ValueError(f"sequence_length must leave room for [CLS] and [SEP], got {sequence_length}")
        self.vocabulary = list(vocabulary)
        self.sequence_length = sequence_length
        self.lowercase = lowercase
        self.max_input_bytes = max_input_bytes
        self.pad_to_length = pad_to_length
        index = {token: i for i, token in enumerate(self.vocabulary)}
        missing = [t for t in SPECIAL_TOKENS if t not in index]
        if missing:
            raise ValueError(f"the vocabulary lacks the special tokens {', '.join(missing)}")
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (index[t] for t in SPECIAL_TOKENS)
        self._special_ids = [index[t] for t in SPECIAL_TOKENS]
        self._tokenizer = tf_text.FastBertTokenizer(
            vocab=self.vocabulary, token_out_type=tf.int64, unknown_token="[UNK]",
            lower_case_nfd_strip_accents=False,  # normalize_bert_text does it the way tokenizer.json does
        )

    @classmethod
    def from_vocabulary_file(cls, path: str | Path, **kwargs) -> "WordpieceTokenizer":
        """Build from a ``vocab.txt`` (e.g. the one beside a Hugging Face BERT checkpoint)."""
        return cls(read_vocabulary(path), **kwargs)

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """WordPiece ids of each string (special tokens typed in it kept), without [CLS]/[SEP] or truncation: int32
        [batch, (pieces)]."""
        text = tf.strings.substr(tf.convert_to_tensor(text, tf.string), 0, self.max_input_bytes)
        text = tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)
        # [batch, (segments)]: the texts between special tokens, and the special tokens themselves. regex_split
        # stops at NUL, so NUL becomes U+0001 first: another control character, which the normaliser drops too.
        text = tf.strings.regex_replace(text, r"\x00", "\x01")
        segments = tf_text.regex_split(text, _SPECIAL_PATTERN, _SPECIAL_PATTERN)
        flat = segments.flat_values
        matches = tf.equal(flat[:, None], tf.constant(SPECIAL_TOKENS)[None, :])  # [segments, 5]
        is_special = tf.reduce_any(matches, axis=1)
        special_ids = tf.reduce_sum(tf.cast(matches, tf.int64) * tf.constant(self._special_ids, tf.int64), axis=1)
        words = self._tokenizer.tokenize(normalize_bert_text(tf.where(is_special, "", flat), self.lowercase))
        specials = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(special_ids, is_special),
                                                    tf.cast(is_special, tf.int64))
        pieces = tf.concat([specials, words], axis=1)  # per segment one of the two is empty
        return tf.cast(segments.with_flat_values(pieces).merge_dims(1, 2), tf.int32)

    def pack(self, pieces: tf.RaggedTensor) -> dict[str, tf.Tensor]:
        """``[CLS] pieces[:sequence_length-2] [SEP]``, padded with [PAD]: the backbone's three inputs."""
        pieces = pieces[:, : self.sequence_length - 2]
        rows = pieces.nrows()
        cls = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], self.cls_id))
        sep = tf.RaggedTensor.from_tensor(tf.fill([rows, 1], self.sep_id))
        packed = tf.concat([cls, pieces, sep], axis=1)
        shape = [None, self.sequence_length] if self.pad_to_length else None
        token_ids = packed.to_tensor(self.pad_id, shape=shape)
        return {
            "token_ids": token_ids,
            "segment_ids": tf.zeros_like(token_ids),
            "padding_mask": tf.ones_like(packed).to_tensor(0, shape=shape),
        }

    def __call__(self, text: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.pack(self.tokenize(text))


class WordpieceLayer(keras.layers.Layer):
    """:class:`WordpieceTokenizer` as a Keras layer: strings [batch] → ``token_ids`` int32 [batch, sequence_length].

    Rows are ``[CLS] pieces… [SEP]`` padded with ``[PAD]``, which must be id 0 so that ``mask_zero``
    embeddings mask the padding.

    >>> layer = WordpieceLayer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"], sequence_length=6)
    >>> layer(tf.constant(["The cats", ""])).numpy().tolist()
    [[2, 5, 6, 7, 3, 0], [2, 3, 0, 0, 0, 0]]
    """

    def __init__(self, vocabulary: Sequence[str], sequence_length: int = 256, lowercase: bool = True,
                 max_input_bytes: int = 1 << 16, **kwargs) -> None:
        super().__init__(trainable=False, **kwargs)
        self.tokenizer = WordpieceTokenizer(vocabulary, sequence_length, lowercase, max_input_bytes, pad_to_length=True)
        if self.tokenizer.pad_id != 0:
            raise ValueError("[PAD] must be id 0 (padding doubles as the mask)")

    def call(self, texts):
        return self.tokenizer(tf.reshape(texts, [-1]))["token_ids"]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.tokenizer.sequence_length)

    def get_config(self):
        t = self.tokenizer
        return {**super().get_config(), "vocabulary": t.vocabulary, "sequence_length": t.sequence_length,
                "lowercase": t.lowercase, "max_input_bytes": t.max_input_bytes}
