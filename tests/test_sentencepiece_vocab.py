"""The T5-style SentencePiece vocabulary: T5's id layout, sentinels, in-graph encode/decode."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data.bbc_news import load_bbc_news
from zoo.models.text.sentencepiece_vocab import EOS_ID, PAD_ID, UNK_ID, SentencePieceVocab


@pytest.fixture(scope="module")
def texts():
    return [str(t) for t in load_bbc_news().train[0][:40]]


@pytest.fixture(scope="module")
def vocab(texts):
    return SentencePieceVocab.train(texts, vocab_size=400, num_sentinels=10)


def test_t5_id_layout(vocab):
    assert vocab.size == 400
    assert [vocab.piece(i) for i in (PAD_ID, EOS_ID, UNK_ID)] == ["<pad>", "</s>", "<unk>"]
    assert [vocab.piece(i) for i in range(390, 400)] == [f"<extra_id_{i}>" for i in range(9, -1, -1)]
    assert vocab.sentinel_id(0) == 399 and vocab.sentinel_id(9) == 390
    with pytest.raises(ValueError, match="out of range"):
        vocab.sentinel_id(10)


def test_in_graph_tokenizer_matches_sentencepiece_and_sentinels_are_single_pieces(vocab, texts):
    from sentencepiece import SentencePieceProcessor

    reference = SentencePieceProcessor(model_proto=vocab.model_proto)
    sample = texts[:5] + ["before <extra_id_0> middle <extra_id_3> after"]
    ids, mask = vocab.encode(tf.constant(sample), max_length=10_000)
    for row, row_mask, text in zip(ids.numpy(), mask.numpy(), sample):
        assert row[row_mask == 1].tolist() == reference.encode(text) + [EOS_ID]
    assert {vocab.sentinel_id(0), vocab.sentinel_id(3)} <= set(ids.numpy()[-1].tolist())


def test_encode_truncates_keeping_eos_and_pads_with_zero(vocab, texts):
    ids, mask = vocab.encode(tf.constant([texts[0], "", "hello"]), max_length=32)
    ids, mask = ids.numpy(), mask.numpy()
    assert ids.shape == (3, 32) and ids.dtype == np.int32
    assert ids[0, -1] == EOS_ID and mask[0].all()
    assert ids[1, 0] == EOS_ID and mask[1].sum() == 1 and (ids[1, 1:] == PAD_ID).all()
    assert ((ids == PAD_ID) == (mask == 0)).all()


def test_decode_stops_at_eos_and_round_trips(vocab):
    sample = ["The government said on Monday that profits rose.", "tech shares fell"]
    ids, _ = vocab.encode(tf.constant(sample), max_length=200)
    assert [t.decode() for t in vocab.decode(ids).numpy()] == sample
    after_eos = np.concatenate([ids.numpy(), np.full((2, 3), 7, np.int32)], axis=1)  # tokens after eos are ignored
    after_eos[1, ids.shape[1]:] = 7
    assert [t.decode() for t in vocab.decode(after_eos).numpy()] == sample


def test_save_load_round_trip_small_corpora_and_clear_errors(vocab, tmp_path):
    path = vocab.save(tmp_path / "spm.model")
    assert SentencePieceVocab.load(path, num_sentinels=10).model_proto == vocab.model_proto
    with pytest.raises(ValueError, match="sentinels"):
        SentencePieceVocab.load(path, num_sentinels=11)
    small = SentencePieceVocab.train(["tiny corpus"], vocab_size=400, num_sentinels=10)  # no error: what it supports
    assert small.size < 400 and small.piece(small.sentinel_id(0)) == "<extra_id_0>"
    with pytest.raises(ValueError, match="empty corpus"):
        SentencePieceVocab.train(["", "  "], vocab_size=400)


def test_tokenizers_keep_their_own_model_after_the_eager_cache_is_cleared(vocab, texts):
    """``keras.utils.set_random_seed`` (every run calls it) clears TensorFlow's eager kernel cache, which deleted
    tensorflow-text's kernel-private model resource under every tokenizer made before ("Resource
    …SentencepieceOp… does not exist"). A tokenizer, a function traced over it, and a second vocabulary's tokenizer
    each keep working after it, each with its own model."""
    import keras
    from sentencepiece import SentencePieceProcessor

    tokenizer = vocab.tokenizer()
    traced = tf.function(lambda t: vocab.decode(vocab.encode(t, 200, tokenizer)[0], tokenizer))
    sample = ["tech shares fell on monday", " ".join(texts[0].split()[:12])]
    before = traced(tf.constant(sample)).numpy().tolist()
    other = SentencePieceVocab.train(texts[::-1], vocab_size=300, num_sentinels=5)
    other_tokenizer = other.tokenizer()
    keras.utils.set_random_seed(0)

    assert traced(tf.constant(sample)).numpy().tolist() == before == [s.encode() for s in sample]
    for made, tok in ((vocab, tokenizer), (other, other_tokenizer)):
        reference = SentencePieceProcessor(model_proto=made.model_proto)
        assert tok.tokenize(tf.constant(sample)).to_list() == [reference.encode(s) for s in sample]
    assert tokenizer.tokenize(tf.constant(sample)).to_list() != other_tokenizer.tokenize(tf.constant(sample)).to_list()
