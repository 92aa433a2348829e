"""The Hugging Face T5 tokenizer of a checkpoint's ``spiece.model``, as tensorflow-text ops inside the graph.

A hub T5 directory (``t5-small``, ``flan-t5-small``) ships ``spiece.model`` without the sentinels: the
Hugging Face tokenizer appends ``extra_ids`` (100) tokens ``<extra_id_N>`` after the SentencePiece pieces,
``<extra_id_0>`` last, and treats them, ``</s>``, ``<pad>`` and ``<unk>`` written in the text as special
tokens: the text is split around them, each piece of text between them is tokenized on its own (so it gets
SentencePiece's leading ``▁``), and the special token becomes its id. Decoding with
``skip_special_tokens=True`` drops all of those ids (and any id past the tokenizer, up to the model's padded
``vocab_size``). :class:`HFT5Tokenizer` does the same with stock ops (``RegexSplitWithOffsets``,
``SentencepieceOp``), so the ids equal ``transformers.T5Tokenizer``'s on sentinels, ``</s>``, whitespace runs
and non-Latin text (tested against ids it computed).

:class:`HFT5Vocab` is the :class:`~zoo.models.text.sentencepiece_vocab.SentencePieceVocab` of such a directory: same
ids, sizes and sentinel lookup, its ``encode`` / ``decode`` (truncation, ``eos``, padding) running on the
tokenizer above.

Example:

>>> vocab = HFT5Vocab.from_spiece(spiece_path, extra_ids=100)                  # doctest: +SKIP
>>> ids, mask = vocab.encode(["The <extra_id_0> walks in park"], max_length=32)  # doctest: +SKIP
>>> vocab.piece(int(ids[0, 1]))                                               # doctest: +SKIP
'<extra_id_0>'
"""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from zoo.models.text.sentencepiece_vocab import EOS_ID, PAD_ID, UNK_ID, SentencePieceVocab, sentencepiece_tokenizer

HF_EXTRA_IDS = 100  # transformers.T5Tokenizer's default


def with_sentinels(model_proto: bytes, extra_ids: int) -> bytes:
    """``model_proto`` with ``<extra_id_{extra_ids-1}>`` … ``<extra_id_0>`` appended: the ids the tokenizer uses."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto.FromString(model_proto)
    for i in reversed(range(extra_ids)):
        proto.pieces.add(piece=f"<extra_id_{i}>", score=0.0, type=proto.pieces[0].USER_DEFINED)
    return proto.SerializeToString()


class HFT5Tokenizer(tf.Module):
    """Strings → ragged int32 ids, and back, as ``transformers.T5Tokenizer`` does (no ``</s>`` appended here).

    ``model_proto`` is ``spiece.model`` as shipped (no sentinels); ``special_tokens`` maps each special token
    text to its id.
    """

    def __init__(self, model_proto: bytes, special_tokens: dict[str, int], name: str | None = None) -> None:
        super().__init__(name=name)
        self.sentencepiece = sentencepiece_tokenizer(model_proto)
        self.sentencepiece_size = int(self.sentencepiece.vocab_size())
        self._pattern = "|".join(re.escape(token) for token in special_tokens)
        self._special_texts = tf.constant(list(special_tokens))
        self._special_ids = tf.constant(list(special_tokens.values()), tf.int32)

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[batch] strings → int32 [batch, (ids)]: text between special tokens by SentencePiece, each piece alone."""
        segments = tf_text.regex_split(texts, self._pattern, keep_delim_regex_pattern=self._pattern)
        flat = segments.flat_values
        matches = tf.equal(flat[:, tf.newaxis], self._special_texts[tf.newaxis, :])
        is_special = tf.reduce_any(matches, axis=1)
        special_ids = tf.gather(self._special_ids, tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32))
        pieces = self.sentencepiece.tokenize(tf.where(is_special, "", flat))
        specials = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(special_ids, is_special),
                                                    tf.cast(is_special, tf.int64))
        per_segment = tf.concat([pieces, specials], axis=1)  # one of the two is empty in every row
        return tf.RaggedTensor.from_row_splits(per_segment, segments.row_splits).merge_dims(1, 2)

    def detokenize(self, token_ids) -> tf.Tensor:
        """int [batch, (ids)] → [batch] strings, special tokens skipped (``skip_special_tokens=True``)."""
        keep = (token_ids > UNK_ID) & (token_ids < self.sentencepiece_size)
        return self.sentencepiece.detokenize(tf.ragged.boolean_mask(token_ids, keep))


class HFT5Vocab(SentencePieceVocab):
    """A hub T5 ``spiece.model`` with the Hugging Face tokenizer's sentinels; see the module docstring."""

    def __init__(self, spiece_proto: bytes, extra_ids: int = HF_EXTRA_IDS) -> None:
        super().__init__(with_sentinels(spiece_proto, extra_ids), extra_ids)
        self.spiece_proto = bytes(spiece_proto)

    @classmethod
    def from_spiece(cls, path: str | Path, extra_ids: int = HF_EXTRA_IDS) -> "HFT5Vocab":
        return cls(Path(path).read_bytes(), extra_ids)

    def special_tokens(self) -> dict[str, int]:
        """Text → id of every token the Hugging Face tokenizer recognises as special inside a text."""
        named = {self.piece(i): i for i in (PAD_ID, EOS_ID, UNK_ID)}
        return {**named, **{f"<extra_id_{i}>": self.sentinel_id(i) for i in range(self.num_sentinels)}}

    def tokenizer(self) -> HFT5Tokenizer:
        """The in-graph tokenizer (track it when exporting)."""
        return HFT5Tokenizer(self.spiece_proto, self.special_tokens())
