"""In-graph byte-level BPE (zoo.models.text.byte_bpe) gives the ids ``GPT2TokenizerFast`` gives and decodes back.

The tokenizer is tests/fixtures/byte_bpe/ (1,000 tokens trained on BBC News by tests/fixtures/make_byte_bpe.py,
which also wrote the reference ids of its test strings to tests/fixtures/byte_bpe.npz); ``GPT2TokenizerFast`` is
also run live on the same files.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import regex
import tensorflow as tf

from signature_support import session_run
from zoo.data.bbc_news import load_bbc_news
from zoo.export.gate import check_ops, graph_ops
from zoo.models.text.byte_bpe import GPT2_PATTERN, ByteBPETokenizer, bytes_to_unicode, read_tokenizer_json, split_words

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VOCAB, MERGES, TOKENIZER_JSON = (FIXTURES / "byte_bpe" / name for name in ("vocab.json", "merges.txt", "tokenizer.json"))
TEXT = tf.TensorSpec([None], tf.string)


def read_cases() -> dict[str, tuple[str, list[int]]]:
    """The fixture's test strings by name, with the ids ``GPT2TokenizerFast`` gave them."""
    with np.load(FIXTURES / "byte_bpe.npz") as data:
        rows = np.split(data["ids"], np.cumsum(data["lengths"])[:-1])
        return {str(name): (str(text), row.tolist()) for name, text, row in zip(data["names"], data["texts"], rows)}


CASES = read_cases()


@pytest.fixture(scope="module")
def reference():
    """``GPT2TokenizerFast`` on the fixture's files (transformers 5 takes them as ``vocab=``/``merges=``: it
    ignores ``vocab_file=``/``merges_file=`` and would tokenize everything to nothing)."""
    transformers = pytest.importorskip("transformers")
    return transformers.GPT2TokenizerFast(vocab=str(VOCAB), merges=str(MERGES))


@pytest.fixture(scope="module")
def tokenizer():
    return ByteBPETokenizer.from_files(VOCAB, MERGES)


@pytest.fixture(scope="module")
def tokenize(tokenizer):
    """``tokenize`` traced once for an open batch: every test below runs the same concrete function."""
    return tf.function(tokenizer.tokenize, input_signature=[TEXT]).get_concrete_function()


@pytest.fixture(scope="module")
def bbc_texts() -> list[str]:
    return [str(text) for text in load_bbc_news().test[0][:200]]


def ids_of(tokenize, texts) -> list[list[int]]:
    return tokenize(tf.constant(texts, tf.string)).to_list()


def mismatches(got: list[list[int]], expected: list[list[int]], names, reference=None) -> dict:
    """``name → (got, expected)`` where they differ, as tokens when ``reference`` can name them."""
    spell = reference.convert_ids_to_tokens if reference is not None else (lambda ids: ids)
    return {name: (spell(g), spell(e)) for name, g, e in zip(names, got, expected) if g != e}


def test_fixture_ids_are_what_gpt2_tokenizer_fast_gives(reference):
    live = [reference.encode(text) for text, _ in CASES.values()]
    assert mismatches(live, [ids for _, ids in CASES.values()], CASES, reference) == {}
    assert reference.encode("<|endoftext|>") == [reference.convert_tokens_to_ids("<|endoftext|>")] == [0]


def test_ids_equal_gpt2_tokenizer_fast_on_the_test_strings(tokenize, reference):
    got = ids_of(tokenize, [text for text, _ in CASES.values()])
    assert mismatches(got, [ids for _, ids in CASES.values()], CASES, reference) == {}


def test_ids_equal_gpt2_tokenizer_fast_on_bbc_test_texts(tokenize, reference, bbc_texts):
    got = ids_of(tokenize, bbc_texts)
    assert mismatches(got, [reference.encode(text) for text in bbc_texts], range(len(bbc_texts))) == {}


def test_tokenizer_json_builds_the_same_tokenizer(tokenize):
    vocabulary, merges, special_tokens = read_tokenizer_json(TOKENIZER_JSON)
    assert special_tokens == ["<|endoftext|>"] and len(vocabulary) == 1000 and len(merges) == 743
    from_json = ByteBPETokenizer.from_tokenizer_json(TOKENIZER_JSON)
    texts = [text for text, _ in CASES.values()]
    assert from_json.tokenize(tf.constant(texts)).to_list() == ids_of(tokenize, texts)
    assert from_json.vocabulary_size == 1000


def test_decode_of_encode_is_the_text_and_equals_gpt2_tokenizer_fast_decode(tokenizer, tokenize, reference, bbc_texts):
    texts = [text for text, _ in CASES.values()] + bbc_texts[:50]
    decoded = tokenizer.detokenize(tokenize(tf.constant(texts))).numpy()
    assert [d.decode("utf-8") for d in decoded] == texts
    # Rows cut inside a character, reversed, or padded by hand: what is not UTF-8 becomes U+FFFD, as in HF's decode.
    emoji = CASES["emoji"][1]
    rows = [emoji[:cut] for cut in range(len(emoji) + 1)] + [emoji[::-1], CASES["accents"][1][::-1]]
    decoded = tokenizer.detokenize(tf.ragged.constant(rows, tf.int32)).numpy()
    assert [d.decode("utf-8") for d in decoded] == [reference.decode(row) for row in rows]
    dense = tokenizer.detokenize(tf.constant([CASES["digits"][1][:5], CASES["digits"][1][5:10]], tf.int32)).numpy()
    assert [d.decode() for d in dense] == [reference.decode(CASES["digits"][1][:5]),
                                           reference.decode(CASES["digits"][1][5:10])]


def test_overlapping_pairs_merge_left_to_right_as_gpt2_tokenizer_fast_merges_them():
    transformers = pytest.importorskip("transformers")
    merges = [("a", "a"), ("aa", "aa"), ("aa", "a"), ("Ġ", "a"), ("Ġa", "aa"), ("b", "a"), ("ba", "a")]
    alphabet = list(bytes_to_unicode().values())
    vocabulary = {token: i for i, token in enumerate(alphabet + sorted({left + right for left, right in merges}))}
    reference = transformers.GPT2TokenizerFast(vocab=vocabulary, merges=merges)
    texts = ["a" * n for n in range(1, 12)] + [" " + "a" * n for n in range(1, 8)] + ["baaa", "abaaaba", "aaa aaaa"]
    got = ByteBPETokenizer(vocabulary, merges).tokenize(tf.constant(texts)).to_list()
    assert mismatches(got, [reference.encode(text) for text in texts], texts, reference) == {}


def test_invalid_utf8_is_tokenized_as_u_fffd(tokenize, reference):
    got = tokenize(tf.constant([b"caf\xc3 \xff\xfeok", b"\xe6\x9d"])).to_list()
    assert got == [reference.encode("caf\ufffd \ufffd\ufffdok"), reference.encode("\ufffd")]


def test_open_batch_traced_once_takes_any_batch(tokenize, reference):
    texts = [text for text, _ in CASES.values()]
    for batch in ([], texts[:1], texts[3:6], ["", ""]):
        got = tokenize(tf.constant(batch, tf.string))
        assert got.dtype == tf.int32 and got.shape.rank == 2
        assert got.to_list() == [reference.encode(text) for text in batch]


# ------------------------------------------------------------------------- pre-tokenization without lookahead
@functools.lru_cache(maxsize=None)
def assigned_code_points(step: int) -> list[int]:
    """Every ``step``-th code point assigned in this Python's Unicode (13 to 15.0 for Python 3.10 to 3.12).

    TensorFlow's RE2 knows Unicode 15, not 16: the letters of Unicode 16 (Garay, Todhri, U+1C89, ...) are not
    ``\\p{L}`` to it, so GPT2TokenizerFast (Unicode 16) splits text holding them elsewhere."""
    return [c for c in range(0, 0x110000, step) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]


def random_texts(count: int, seed: int = 0) -> list[str]:
    """Short strings from the characters that GPT-2's pattern treats apart, plus random code points."""
    rng = random.Random(seed)
    pool = [" ", " ", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2009", "\u3000", "'", "'",
            "s", "t", "re", "ve", "m", "ll", "d", "S", "a", "Z", "1", "٣", "½", "!", ".", "\x00", "é", "ß", "東",
            "😀", "\u200b", "\ufffd"]
    code_points = assigned_code_points(1)
    return ["".join(rng.choice(pool) if rng.random() < 0.8 else chr(rng.choice(code_points))
                    for _ in range(rng.randrange(16))) for _ in range(count)]


def test_split_words_equals_the_gpt2_pattern_with_its_lookahead():
    gpt2 = regex.compile(GPT2_PATTERN)
    # each sampled character doubled, after a space, before an apostrophe-s, between runs of whitespace
    texts = [f"a{c}{c}b {c}1 '{c}s  {c}\t{c}\x00{c} " for c in map(chr, assigned_code_points(13))]
    texts += random_texts(4000)
    got = split_words(tf.constant(texts)).to_list()
    wrong = {text: [w.decode("utf-8") for w in words] for text, words in zip(texts, got)
             if [w.decode("utf-8") for w in words] != gpt2.findall(text)}
    assert len(texts) > 10_000 and wrong == {}


def test_random_texts_equal_gpt2_tokenizer_fast_and_round_trip(tokenizer, tokenize, reference):
    texts = random_texts(1000, seed=1) + ["<|endoftext|>".join(random_texts(3, seed=seed)) for seed in range(100)]
    got = tokenize(tf.constant(texts))
    assert mismatches(got.to_list(), [reference.encode(text) for text in texts], texts) == {}
    assert [d.decode("utf-8") for d in tokenizer.detokenize(got).numpy()] == texts


# ----------------------------------------------------------------------------------------- export and serving
class TokenizerModule(tf.Module):
    """What a serving signature around the tokenizer looks like: text → padded ids and lengths, and back."""

    def __init__(self, tokenizer: ByteBPETokenizer) -> None:
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def encode(self, text):
        ids = self.tokenizer.tokenize(text)
        return {"token_ids": ids.to_tensor(-1), "lengths": tf.cast(ids.row_lengths(), tf.int32)}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="token_ids"),
                                  tf.TensorSpec([None], tf.int32, name="lengths")])
    def decode(self, token_ids, lengths):
        return {"text": self.tokenizer.detokenize(tf.RaggedTensor.from_tensor(token_ids, lengths=lengths))}


@pytest.fixture(scope="module")
def exported(tokenizer, tmp_path_factory) -> Path:
    module = TokenizerModule(tokenizer)
    path = tmp_path_factory.mktemp("byte_bpe") / "1"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.encode, "decode": module.decode})
    return path


def test_exported_signature_gives_the_same_ids_loaded_as_tf_serving_loads_it(exported, tokenize):
    texts = [text for text, _ in CASES.values()]
    _, outputs = session_run(exported, "serving_default", {"text": np.array(texts, object)})
    rows = [row[:length].tolist() for row, length in zip(outputs["token_ids"], outputs["lengths"])]
    assert rows == ids_of(tokenize, texts)
    _, decoded = session_run(exported, "decode", {"token_ids": outputs["token_ids"], "lengths": outputs["lengths"]})
    assert [text.decode("utf-8") for text in decoded["text"]] == texts


def test_export_uses_only_ops_the_stock_model_server_has_and_no_mutable_table(exported):
    from zoo.export.session import SessionModel

    with SessionModel(exported) as model:
        ops = graph_ops(model.meta_graph)
    assert check_ops(ops) == []
    assert "HashTableV2" in ops and not {op for op in ops if "Mutable" in op}


# ----------------------------------------------------------------------------------------------- construction
def test_a_vocabulary_that_is_not_byte_level_is_refused():
    alphabet = list(bytes_to_unicode().values())
    vocabulary = {token: i for i, token in enumerate(alphabet + ["ab", "<|endoftext|>"])}
    with pytest.raises(ValueError, match="lacks 1 of the 256 byte characters"):
        ByteBPETokenizer({t: i for t, i in vocabulary.items() if t != "Ġ"}, [])
    with pytest.raises(ValueError, match=r"merge 1 \('ab' 'c'\): 'abc' is not in the vocabulary"):
        ByteBPETokenizer(vocabulary, [("a", "b"), ("ab", "c")])
    with pytest.raises(ValueError, match="special tokens"):
        ByteBPETokenizer(vocabulary, [("a", "b")], ["<pad>"])


def test_a_tokenizer_json_that_is_not_gpt2s_layout_is_refused(tmp_path):
    import json

    config = json.loads(TOKENIZER_JSON.read_text(encoding="utf-8"))
    config["normalizer"] = {"type": "NFC"}
    config["pre_tokenizer"]["add_prefix_space"] = True
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="not ByteLevel without a prefix space; normalizer 'NFC'"):
        read_tokenizer_json(path)


def test_ids_past_the_vocabulary_decode_to_nothing():
    """A model may have more rows than its tokenizer has tokens (checkpoints padded to a round vocab_size): what it
    emits there decodes to nothing, as Hugging Face's decoders skip unknown ids, instead of failing the request."""
    tokenizer = ByteBPETokenizer.from_files(VOCAB, MERGES)
    ids = tokenizer.tokenize(tf.constant(["Hello world"])).to_list()[0]
    past = [tokenizer.vocabulary_size, tokenizer.vocabulary_size + 40000, -1]
    assert tokenizer.detokenize(tf.ragged.constant([ids + past])).numpy().tolist() == [b"Hello world"]
