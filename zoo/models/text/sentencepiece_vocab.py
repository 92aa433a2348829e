"""A T5-style SentencePiece vocabulary trained on a local corpus, with in-graph tokenization.

The layout is T5's: ``pad=0`` (also the decoder's start token), ``eos=1``, ``unk=2``, no ``bos``, and
``num_sentinels`` sentinel pieces ``<extra_id_0>``, ``<extra_id_1>``, … at the top of the vocabulary,
``<extra_id_0>`` having the highest id. Tokenization and detokenization run as tensorflow-text ops, so
they can live inside an exported graph (the model proto becomes a constant of the SavedModel).

The tokenizer's model resource is named by the model's content (:class:`SentencepieceModel`): tensorflow-text's
own is private to the eager kernel that made it, and ``tf.random.set_seed`` (which every run calls through
``keras.utils.set_random_seed``) clears the eager kernel cache, deleting it under any tokenizer made before; a
first t5 run's ``generate`` then failed after a second run started ("Resource …SentencepieceOp… does not exist").

Example:

>>> texts = ["the cat sat on the mat", "the dog ate the cat food", "a mat for a dog"] * 30
>>> vocab = SentencePieceVocab.train(texts, vocab_size=20, num_sentinels=3)
>>> vocab.size, vocab.sentinel_id(0), vocab.piece(vocab.sentinel_id(0)), vocab.piece(vocab.sentinel_id(2))
(20, 19, '<extra_id_0>', '<extra_id_2>')
>>> ids, mask = vocab.encode(["the cat", "a dog sat on the mat"], max_length=64)
>>> [t.decode() for t in vocab.decode(ids).numpy()]
['the cat', 'a dog sat on the mat']
>>> ids, mask = vocab.encode(["the cat", "a dog sat on the mat"], max_length=4)  # truncated, eos kept
>>> ids.shape.as_list(), int(ids[1, -1]) == EOS_ID, mask.numpy().sum(axis=1).tolist()
([2, 4], True, [4, 4])
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Iterable

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.python.ops.sentencepiece_tokenizer import gen_sentencepiece_tokenizer

PAD_ID = 0
EOS_ID = 1
UNK_ID = 2


class SentencepieceModel(tf.saved_model.experimental.TrackableResource):
    """The SentencePiece model resource, shared by name: ``zoo_sentencepiece_`` + the proto's SHA-256.

    A named resource outlives the kernel that created it, so clearing TensorFlow's eager caches (as
    ``tf.random.set_seed`` does) leaves every tokenizer working; tokenizers of one model share one resource, and a
    SavedModel recreates it under the same name when loaded.
    """

    def __init__(self, model_proto: bytes) -> None:
        super().__init__()
        self.model_proto = bytes(model_proto)
        self.shared_name = "zoo_sentencepiece_" + hashlib.sha256(self.model_proto).hexdigest()
        _ = self.resource_handle  # created now, as tensorflow-text does

    def _create_resource(self) -> tf.Tensor:
        return gen_sentencepiece_tokenizer.sentencepiece_op(model=self.model_proto, shared_name=self.shared_name)


def sentencepiece_tokenizer(model_proto: bytes) -> tf_text.SentencepieceTokenizer:
    """``tf_text.SentencepieceTokenizer`` (int32 ids) over ``model_proto`` whose model resource survives a cleared
    eager cache (:class:`SentencepieceModel`); use it for every in-graph SentencePiece tokenizer.

    >>> import keras
    >>> vocab = SentencePieceVocab.train(["the cat sat on the mat", "a dog"] * 30, vocab_size=24, num_sentinels=1)
    >>> tokenizer = sentencepiece_tokenizer(vocab.model_proto)
    >>> keras.utils.set_random_seed(0)  # clears the eager kernel cache
    >>> tokenizer.detokenize(tokenizer.tokenize(["the cat"])).numpy().tolist()
    [b'the cat']
    """
    tokenizer = tf_text.SentencepieceTokenizer(model=model_proto, out_type=tf.int32)
    tokenizer._model_resource = SentencepieceModel(model_proto)  # in place of the kernel-private one
    return tokenizer


class SentencePieceVocab:
    """A unigram SentencePiece model in T5's id layout; see the module docstring."""

    def __init__(self, model_proto: bytes, num_sentinels: int) -> None:
        from sentencepiece import SentencePieceProcessor

        self.model_proto = bytes(model_proto)
        self.num_sentinels = num_sentinels
        self._processor = SentencePieceProcessor(model_proto=self.model_proto)
        expected = [f"<extra_id_{i}>" for i in range(num_sentinels)]
        if [self.piece(self.sentinel_id(i)) for i in range(num_sentinels)] != expected:
            raise ValueError(f"the model proto does not end with {num_sentinels} T5 sentinels <extra_id_N>")
        if (self._processor.pad_id(), self._processor.eos_id(), self._processor.unk_id()) != (PAD_ID, EOS_ID, UNK_ID):
            raise ValueError("the model proto does not use T5's ids: pad=0, eos=1, unk=2")

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, num_sentinels: int = 100) -> "SentencePieceVocab":
        """Train a unigram model on ``texts`` (split into lines), then append the sentinels.

        ``vocab_size`` counts the sentinels and is an upper bound: a corpus too small for it gets fewer pieces.
        """
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2

        lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValueError("cannot train a vocabulary on an empty corpus")
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines),
                model_writer=buffer,
                model_type="unigram",
                vocab_size=vocab_size - num_sentinels,
                hard_vocab_limit=False,  # a small corpus gets the largest vocabulary it supports, not an error
                pad_id=PAD_ID, eos_id=EOS_ID, unk_id=UNK_ID, bos_id=-1,
                character_coverage=0.9995,
                num_threads=1,  # deterministic, and the machine is shared
                minloglevel=2,
            )
        except RuntimeError as exc:
            raise ValueError(f"sentencepiece could not train a {vocab_size}-piece vocabulary: {exc}") from None
        proto = sentencepiece_model_pb2.ModelProto.FromString(buffer.getvalue())
        for i in reversed(range(num_sentinels)):  # <extra_id_0> last, so it gets the highest id, as in T5
            proto.pieces.add(piece=f"<extra_id_{i}>", score=0.0, type=proto.pieces[0].USER_DEFINED)
        return cls(proto.SerializeToString(), num_sentinels)

    @classmethod
    def load(cls, path: str | Path, num_sentinels: int) -> "SentencePieceVocab":
        return cls(Path(path).read_bytes(), num_sentinels)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.model_proto)
        return path

    @property
    def size(self) -> int:
        return self._processor.get_piece_size()

    def sentinel_id(self, index: int) -> int:
        """The id of ``<extra_id_{index}>``: the vocabulary's top ids, counting down."""
        if not 0 <= index < self.num_sentinels:
            raise ValueError(f"sentinel {index} out of range: the vocabulary has {self.num_sentinels}")
        return self.size - 1 - index

    def piece(self, token_id: int) -> str:
        return self._processor.id_to_piece(int(token_id))

    def tokenizer(self) -> tf_text.SentencepieceTokenizer:
        """A tensorflow-text tokenizer over this model (track it when exporting); see :func:`sentencepiece_tokenizer`."""
        return sentencepiece_tokenizer(self.model_proto)

    def encode(self, texts: tf.Tensor, max_length: int, tokenizer: tf_text.SentencepieceTokenizer | None = None):
        """Strings [batch] → ``(token_ids, padding_mask)`` int32 [batch, longest ≤ max_length].

        Each row is truncated to ``max_length - 1`` pieces and ends with ``eos``; padding is ``pad`` (0).
        """
        pieces = (tokenizer or self.tokenizer()).tokenize(texts)[:, : max_length - 1]
        eos = tf.fill([tf.shape(texts)[0], 1], EOS_ID)
        ids = tf.concat([pieces, tf.RaggedTensor.from_tensor(eos)], axis=1)
        return ids.to_tensor(PAD_ID), tf.cast(tf.sequence_mask(ids.row_lengths()), tf.int32)

    def decode(self, token_ids: tf.Tensor, tokenizer: tf_text.SentencepieceTokenizer | None = None) -> tf.Tensor:
        """int [batch, length] → strings [batch]: each row up to its first ``eos``, padding dropped."""
        token_ids = tf.cast(token_ids, tf.int32)
        before_eos = tf.cumsum(tf.cast(tf.equal(token_ids, EOS_ID), tf.int32), axis=1, exclusive=True) == 0
        keep = before_eos & tf.not_equal(token_ids, EOS_ID) & tf.not_equal(token_ids, PAD_ID)
        return (tokenizer or self.tokenizer()).detokenize(tf.ragged.boolean_mask(token_ids, keep))
