"""In-graph WordPiece tokenisation gives the ids the checkpoint's own tokenizer.json gives (through `tokenizers`)."""

import numpy as np
import pytest
import tensorflow as tf
import tokenizers

from zoo.models.hf.bert_checkpoint import minilm_directory
from zoo.models.text.wordpiece import WordpieceLayer, WordpieceTokenizer, read_vocabulary

SEQUENCE_LENGTH = 32
CASES = {
    "accents": "Café naïve résumé — Ångström, Zürich; São Paulo! Ünïcödé ÉCOLE",
    "punctuation": "Hello, world!!! (it's 3.14%) e-mail: a@b.com #tag don't stop-believing... $100 £50 €20",
    "cjk": "東京は日本の首都です。北京欢迎你",
    "empty": "",
    "longer_than_sequence": "The quick brown fox jumps over the lazy dog, again and again. " * 12,
    "non_latin_case": "Straße ΑΒΓ Привет мир İstanbul",
    "compatibility_forms": "ﬁnance ＡＢＣ full-width ½ ²",
    "control_and_format_chars": "tab\there\nnew\u00adsoft\u200bzero\x00null x\ufffdy",
    "emoji_and_inverted_marks": "😀 emoji 🇬🇧 ¿qué? ¡sí!",
    "over_long_word": "supercalifragilisticexpialidocious " + "x" * 120,
    "whitespace_only": "   \t\n ",
}


@pytest.fixture(scope="module")
def reference():
    tok = tokenizers.Tokenizer.from_file(str(minilm_directory() / "tokenizer.json"))
    tok.enable_truncation(SEQUENCE_LENGTH)
    tok.no_padding()
    return tok


@pytest.fixture(scope="module")
def tokenizer():
    return WordpieceTokenizer.from_vocabulary_file(minilm_directory() / "vocab.txt", sequence_length=SEQUENCE_LENGTH)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ids_equal_tokenizer_json(case, tokenizer, reference):
    expected = reference.encode(CASES[case]).ids
    got = tokenizer(tf.constant([CASES[case]]))
    assert got["token_ids"][0].numpy().tolist() == expected
    assert got["padding_mask"].numpy().sum() == len(expected)


def test_batch_pads_to_longest_with_mask_and_zero_segments(tokenizer, reference):
    texts = list(CASES.values())
    got = {k: v.numpy() for k, v in tokenizer(tf.constant(texts)).items()}
    assert got["token_ids"].shape == (len(texts), SEQUENCE_LENGTH) and got["token_ids"].dtype == np.int32
    for row, text in enumerate(texts):
        expected = reference.encode(text).ids
        assert got["token_ids"][row, : len(expected)].tolist() == expected
        assert not got["token_ids"][row, len(expected):].any() and not got["padding_mask"][row, len(expected):].any()
    assert not got["segment_ids"].any()


def test_short_batch_is_not_padded_to_sequence_length(tokenizer):
    assert tokenizer(tf.constant(["a b", "a"]))["token_ids"].shape == (2, 4)


def test_vocabulary_without_special_tokens_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks \[UNK\], \[CLS\], \[SEP\], \[MASK\]"):
        read_vocabulary(path)


def test_layer_bounds_and_repairs_any_input():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", "cafe"]
    layer = WordpieceLayer(vocab, sequence_length=5)
    ids = layer(tf.constant(["The cats sat on", "", "CAFÉ", b"\xffcat\xc3", "cat " * 100_000])).numpy()
    assert ids.shape == (5, 5) and ids.dtype == np.int32
    assert ids[0].tolist() == [2, 5, 6, 8, 3]            # [CLS] the cat ##s [SEP]: cut to the length
    assert ids[1].tolist() == [2, 3, 0, 0, 0]            # empty → [CLS] [SEP], then padding
    assert ids[2].tolist() == [2, 9, 3, 0, 0]            # lower-cased, accent stripped
    assert ids[3].tolist() == [2, 6, 3, 0, 0]            # invalid UTF-8 bytes became U+FFFD, which is dropped
    assert ids[4].tolist() == [2, 6, 6, 6, 3]            # 400 kB cut to max_input_bytes, then to the length
    with pytest.raises(ValueError, match="special tokens"):
        WordpieceLayer(["[PAD]", "a"])
    with pytest.raises(ValueError, match="id 0"):
        WordpieceLayer(["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]", "a"])


# ------------------------------------------------------------------------------------------ special tokens typed
SPECIAL_CASES = {
    "mask_in_a_sentence": "The capital of France is [MASK].",
    "every_special_token": "[CLS] hi [SEP] there [PAD] x [UNK] y [MASK]",
    "glued_to_words": "x[MASK]y [MASK]s ##[MASK] Café[MASK]ß",
    "adjacent": "[MASK][MASK][SEP][CLS]",
    "other_case_or_spacing_is_text": "[mask] [Mask] [ MASK ] [MASK ] MASK [MASK",
    "split_by_a_control_character": "[MA\u200bSK] [MA\x00SK] a\x00[MASK]\x00b",
    "only_a_special_token": "[SEP]",
}


@pytest.fixture(scope="module")
def bert_tokenizer_fast():
    transformers = pytest.importorskip("transformers")
    return transformers.BertTokenizerFast.from_pretrained(str(minilm_directory()))


@pytest.mark.parametrize("case", sorted(SPECIAL_CASES))
def test_special_tokens_typed_in_text_keep_their_ids_as_bert_tokenizer_fast_does(case, tokenizer, bert_tokenizer_fast):
    text = SPECIAL_CASES[case]
    expected = bert_tokenizer_fast(text, truncation=True, max_length=SEQUENCE_LENGTH)["input_ids"]
    got = tokenizer(tf.constant([text]))["token_ids"][0].numpy().tolist()
    assert got == expected, (bert_tokenizer_fast.convert_ids_to_tokens(got),
                             bert_tokenizer_fast.convert_ids_to_tokens(expected))


def test_a_typed_mask_is_one_mask_id_not_three_pieces(tokenizer):
    ids = tokenizer(tf.constant(["a [MASK] b", "a [mask] b"]))["token_ids"].numpy()
    assert (ids[0] == tokenizer.mask_id).sum() == 1
    assert (ids[1] == tokenizer.mask_id).sum() == 0  # lower-case is ordinary text: [ mask ]


def test_special_tokens_survive_a_saved_model_round_trip(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "##s"]
    module = WordpieceTokenizer(vocab, sequence_length=8)
    serve = tf.function(lambda text: module(text)["token_ids"],
                        input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / "m"), signatures=serve)
    loaded = tf.saved_model.load(str(tmp_path / "m")).signatures["serving_default"]
    out = next(iter(loaded(text=tf.constant(["the [MASK]s [CLS]", "cats"])).values())).numpy()
    assert out.tolist() == [[2, 5, 4, 1, 2, 3], [2, 6, 7, 3, 0, 0]]  # the [MASK] [UNK] [CLS] ids, not pieces
