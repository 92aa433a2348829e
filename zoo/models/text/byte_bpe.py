"""Byte-level BPE (GPT-2's tokenizer) inside the TensorFlow graph, matching Hugging Face's ``GPT2TokenizerFast``.

:class:`ByteBPETokenizer` turns raw strings into GPT-2 token ids and back with core TensorFlow ops only (no
``tf.py_function``; the stock ``tensorflow_model_server`` runs them); its vocabulary and merges live in the graph as
constants and static hash tables, so a SavedModel holding it needs no files beside it. It is built from the
``vocab.json`` + ``merges.txt`` Hugging Face ships with GPT-2 (:meth:`ByteBPETokenizer.from_files`) or from a
``tokenizer.json`` (:meth:`ByteBPETokenizer.from_tokenizer_json`).

Tokenizing is four steps, each as ``GPT2TokenizerFast`` does it:

1. Special tokens typed in the text (``<|endoftext|>``) are cut out first and become their ids; the text between
   them is tokenized piece by piece.
2. :func:`split_words` cuts each piece into words with GPT-2's pattern (:data:`GPT2_PATTERN`). RE2, TensorFlow's
   regex engine, has no lookahead, which the pattern's ``\\s+(?!\\S)`` needs: a run of whitespace followed by a
   word leaves its last character to that word (``"a  b"`` → ``"a"``, ``" "``, ``" b"``). So the text is first cut
   before every whitespace character that a non-whitespace one follows, and the pattern with its two whitespace
   alternatives as one ``\\s+`` is exact on the pieces. ``\\s`` is Unicode White_Space (:data:`WHITESPACE`), not
   RE2's ASCII ``\\s``. Cutting is two ``regex_replace`` passes that insert a mark byte and one ``strings.split``.
3. Each word's UTF-8 bytes become the ids of GPT-2's byte characters (:func:`bytes_to_unicode`).
4. A ``tf.while_loop`` merges, in every word at once, the adjacent pair with the lowest merge rank (every
   occurrence, left to right), until no pair of any word has a rank. Each distinct word of a batch is merged once.

Strings that are not valid UTF-8 have their bad bytes replaced by U+FFFD first. :meth:`ByteBPETokenizer.detokenize`
joins the tokens' bytes and, as Hugging Face's byte-level decoder does, replaces what is not valid UTF-8 by U+FFFD.

Example (a tiny vocabulary: the 256 byte characters, three merges and ``<|endoftext|>``; ``Ġ`` is the space):

>>> alphabet = list(bytes_to_unicode().values())
>>> vocabulary = {token: i for i, token in enumerate(alphabet + ["lo", "low", "Ġlow", "<|endoftext|>"])}
>>> tokenizer = ByteBPETokenizer(vocabulary, [("l", "o"), ("lo", "w"), ("Ġ", "low")], ["<|endoftext|>"])
>>> ids = tokenizer.tokenize(tf.constant(["low lower", "lo<|endoftext|>"]))
>>> ids.to_list()
[[257, 258, 101, 114], [256, 259]]
>>> tokenizer.detokenize(ids).numpy().tolist()
[b'low lower', b'lo<|endoftext|>']
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Mapping, Sequence

import tensorflow as tf

#: GPT-2's pre-tokenization pattern, in the syntax of Python's ``regex`` (``tokenizers`` runs it with Oniguruma).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
#: ``\s`` of :data:`GPT2_PATTERN` as an RE2 class body: Unicode White_Space (RE2's own ``\s`` is ASCII only).
WHITESPACE = r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
#: A whitespace character followed by a non-whitespace one: the last character of a run that a word follows.
_SPACE_BEFORE_WORD = f"[{WHITESPACE}][^{WHITESPACE}]"
#: :data:`GPT2_PATTERN` in RE2 with its two whitespace alternatives as one ``\s+``: exact on text cut before
#: each :data:`_SPACE_BEFORE_WORD`, where no whitespace run is followed by a word unless it is one character long.
_PIECE_PATTERN = rf"'s|'t|'re|'ve|'m|'ll|'d| ?\p{{L}}+| ?\p{{N}}+| ?[^{WHITESPACE}\p{{L}}\p{{N}}]+|[{WHITESPACE}]+"
#: The split mark: a byte valid UTF-8 never holds, and which no RE2 class or literal here matches.
MARK = b"\xff"
#: Default special tokens of ``GPT2TokenizerFast`` (its bos, eos and unk).
GPT2_SPECIAL_TOKENS = ("<|endoftext|>",)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for themselves, the other 68 bytes
    (controls, space, soft hyphen, ...) for ``chr(256 + k)`` in byte order, so that ``Ġ`` (U+0120) is the space.

    >>> table = bytes_to_unicode()
    >>> table[ord("a")], table[ord(" ")], table[ord("\\n")], len(set(table.values()))
    ('a', 'Ġ', 'Ċ', 256)
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [byte for byte in range(256) if byte not in printable]
    table = {byte: chr(byte) for byte in printable}
    table.update({byte: chr(256 + k) for k, byte in enumerate(others)})
    return dict(sorted(table.items()))


_BYTE_OF_CHAR = {char: byte for byte, char in bytes_to_unicode().items()}


def token_bytes(token: str) -> bytes:
    """The bytes a token stands for: its characters mapped back through :func:`bytes_to_unicode`, or, when one of
    them is not a byte character (an added token may be anything), its own UTF-8, as Hugging Face's byte-level
    decoder does.

    >>> token_bytes("Ġcaf"), token_bytes("Ã©"), token_bytes("<|endoftext|>"), token_bytes("→")
    (b' caf', b'\\xc3\\xa9', b'<|endoftext|>', b'\\xe2\\x86\\x92')
    """
    if all(char in _BYTE_OF_CHAR for char in token):
        return bytes(_BYTE_OF_CHAR[char] for char in token)
    return token.encode("utf-8")


def read_vocab_and_merges(vocab_path: str | Path, merges_path: str | Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The token → id map of a ``vocab.json`` and the merges of a ``merges.txt`` (``#version`` line skipped), in
    rank order."""
    vocabulary = json.loads(Path(vocab_path).read_text(encoding="utf-8"))
    lines = Path(merges_path).read_text(encoding="utf-8").splitlines()
    return vocabulary, [_merge_pair(line) for line in lines if line and not line.startswith("#version")]


def _merge_pair(merge: str | Sequence[str]) -> tuple[str, str]:
    """One merge as ``(left, right)``, from ``"left right"`` or ``["left", "right"]`` (both spellings occur)."""
    parts = merge.split(" ") if isinstance(merge, str) else list(merge)
    if len(parts) != 2:
        raise ValueError(f"a merge has two tokens, got {merge!r}")
    return parts[0], parts[1]


def read_tokenizer_json(path: str | Path) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """The vocabulary (added tokens included), merges and added tokens of a GPT-2 style ``tokenizer.json``.

    ValueError when it asks for something :class:`ByteBPETokenizer` does not do (another model or
    pre-tokenizer, a normalizer, a prefix space, added tokens that strip spaces or match whole words only).
    """
    config = json.loads(Path(path).read_text(encoding="utf-8"))
    problems = _unsupported_settings(config)
    if problems:
        raise ValueError(f"{path} is not a GPT-2 byte-level BPE tokenizer: {'; '.join(problems)}")
    vocabulary = dict(config["model"]["vocab"])
    added = config.get("added_tokens") or []
    for token in added:
        if vocabulary.setdefault(token["content"], token["id"]) != token["id"]:
            raise ValueError(f"{path}: added token {token['content']!r} has id {token['id']}, the vocabulary another")
    return vocabulary, [_merge_pair(m) for m in config["model"]["merges"]], [token["content"] for token in added]


def _unsupported_settings(config: dict) -> list[str]:
    """What in a ``tokenizer.json`` differs from GPT-2's layout (empty when it is GPT-2's)."""
    model, pre_tokenizer = config.get("model") or {}, config.get("pre_tokenizer") or {}
    problems = []
    if model.get("type") != "BPE":
        problems.append(f"model type {model.get('type')!r}, not 'BPE'")
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or model.get("byte_fallback"):
        problems.append("the BPE model uses a subword prefix, word suffix or byte fallback")
    if pre_tokenizer.get("type") != "ByteLevel" or pre_tokenizer.get("add_prefix_space"):
        problems.append(f"pre-tokenizer {pre_tokenizer!r}, not ByteLevel without a prefix space")
    if config.get("normalizer"):
        problems.append(f"normalizer {config['normalizer'].get('type')!r}")
    if any(t.get("lstrip") or t.get("rstrip") or t.get("single_word") for t in config.get("added_tokens") or []):
        problems.append("added tokens with lstrip, rstrip or single_word")
    return problems


def _split_at_marks(marked: tf.Tensor) -> tf.RaggedTensor:
    """Strings [n] → the non-empty parts between :data:`MARK` bytes [n, (parts)]."""
    parts = tf.strings.split(marked, sep=MARK)
    return tf.ragged.boolean_mask(parts, tf.strings.length(parts) > 0)


def split_words(text: tf.Tensor) -> tf.RaggedTensor:
    """GPT-2's pre-tokenization of valid UTF-8 strings [n] → words [n, (words)], as :data:`GPT2_PATTERN` splits.

    Two marking passes, then one split at the marks: a mark before each whitespace character that a
    non-whitespace one follows (the character a run hands to the next word), then one before each match of
    :data:`_PIECE_PATTERN`, whose classes never match the mark, so no word crosses the first marks.

    >>> split_words(tf.constant(["I'm  here\\t\\n", "don't"])).to_list()
    [[b'I', b"'m", b' ', b' here', b'\\t\\n'], [b'don', b"'t"]]
    """
    pieces = tf.strings.regex_replace(text, _SPACE_BEFORE_WORD, MARK + rb"\0")
    return _split_at_marks(tf.strings.regex_replace(pieces, _PIECE_PATTERN, MARK + rb"\0"))


class ByteBPETokenizer(tf.Module):
    """Raw strings [batch] ⇄ byte-level BPE token ids, as ``GPT2TokenizerFast`` encodes (no special tokens added)
    and decodes.

    ``vocabulary`` maps tokens (in GPT-2's byte characters) to ids and must hold all 256 byte characters, every
    merge's parts and result, and the ``special_tokens``: strings that are cut out of the text and kept as one id
    wherever they are typed. ``merges`` are token pairs in rank order.
    """

    def __init__(self, vocabulary: Mapping[str, int], merges: Sequence[tuple[str, str]],
                 special_tokens: Sequence[str] = (), name: str | None = None) -> None:
        super().__init__(name=name)
        self.vocabulary = dict(vocabulary)
        self.merges = [tuple(pair) for pair in merges]
        self.special_tokens = list(special_tokens)
        _check_vocabulary(self.vocabulary, self.merges, self.special_tokens)
        stride = max(self.vocabulary.values()) + 1
        self._stride = tf.constant(stride, tf.int64)
        self._byte_ids = tf.constant([self.vocabulary[char] for char in bytes_to_unicode().values()], tf.int64)
        self._no_merge = tf.constant(len(self.merges), tf.int64)
        pair_keys = [self.vocabulary[left] * stride + self.vocabulary[right] for left, right in self.merges]
        self._merge_rank = _merge_rank_table(pair_keys)
        # The id each rank's merge makes, and a last entry for "no merge" that is never used.
        self._merged_id = tf.constant([self.vocabulary[left + right] for left, right in self.merges] + [0], tf.int64)
        self._special_tokens = tf.constant(self.special_tokens, tf.string, shape=[len(self.special_tokens)])
        self._special_ids = tf.constant([self.vocabulary[t] for t in self.special_tokens], tf.int64,
                                        shape=[len(self.special_tokens)])
        by_length = sorted(self.special_tokens, key=len, reverse=True)  # RE2 picks the first alternative that matches
        self._special_pattern = "|".join(re.escape(token) for token in by_length)
        token_of = {i: token for token, i in self.vocabulary.items()}
        # Every id's bytes, and a last, empty entry for ids past the vocabulary (a model may have more rows than its
        # tokenizer has tokens, as GPT-2 checkpoints padded to a round vocab_size do): they decode to nothing.
        self._token_bytes = tf.constant([token_bytes(token_of.get(i, "")) for i in range(stride)] + [b""])

    @classmethod
    def from_files(cls, vocab_path: str | Path, merges_path: str | Path,
                   special_tokens: Sequence[str] = GPT2_SPECIAL_TOKENS, **kwargs) -> "ByteBPETokenizer":
        """Build from the ``vocab.json`` and ``merges.txt`` beside a Hugging Face GPT-2 checkpoint."""
        vocabulary, merges = read_vocab_and_merges(vocab_path, merges_path)
        return cls(vocabulary, merges, special_tokens, **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path: str | Path, **kwargs) -> "ByteBPETokenizer":
        """Build from a ``tokenizer.json`` (its model's vocab and merges; its added tokens are the special tokens)."""
        return cls(*read_tokenizer_json(path), **kwargs)

    @property
    def vocabulary_size(self) -> int:
        """One more than the largest id."""
        return int(self._token_bytes.shape[0]) - 1

    def tokenize(self, text: tf.Tensor) -> tf.RaggedTensor:
        """Token ids of each string [batch] → int32 [batch, (ids)]."""
        text = tf.strings.unicode_transcode(tf.convert_to_tensor(text, tf.string), "UTF-8", "UTF-8",
                                            errors="replace", replacement_char=0xFFFD)
        segments = self._split_special_tokens(text)  # [batch, (segments)]: special tokens and the text between
        matches = tf.equal(segments.flat_values[:, None], self._special_tokens[None, :])  # [segments, specials]
        is_special = tf.reduce_any(matches, axis=1)
        special = tf.reduce_sum(tf.cast(matches, tf.int64) * self._special_ids, axis=1)
        words = split_words(tf.where(is_special, "", segments.flat_values))  # [segments, (words)]
        word_ids = words.with_flat_values(self._encode_words(words.flat_values)).merge_dims(1, 2)
        special_ids = tf.RaggedTensor.from_row_lengths(tf.boolean_mask(special, is_special),
                                                       tf.cast(is_special, tf.int64))
        ids = tf.concat([special_ids, word_ids], axis=1)  # each segment has one of the two, the other is empty
        return tf.cast(segments.with_flat_values(ids).merge_dims(1, 2), tf.int32)

    def detokenize(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
        """Ids [batch, (ids)] (ragged, or dense without padding) → strings [batch]: the tokens' bytes joined, with
        what is not valid UTF-8 (a row cut inside a character) replaced by U+FFFD; ids the vocabulary lacks (past
        its end, or negative) decode to nothing, as Hugging Face's decoders skip them."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        past = self.vocabulary_size
        text = tf.strings.reduce_join(tf.gather(self._token_bytes, tf.where((ids >= 0) & (ids < past), ids, past)),
                                      axis=-1)
        return tf.strings.unicode_transcode(text, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD)

    def _split_special_tokens(self, text: tf.Tensor) -> tf.RaggedTensor:
        """[batch] → [batch, (segments)]: the special tokens typed in each string and the text between them."""
        if not self.special_tokens:
            return tf.RaggedTensor.from_row_lengths(text, tf.ones_like(text, tf.int64))
        return _split_at_marks(tf.strings.regex_replace(text, self._special_pattern, MARK + rb"\0" + MARK))

    def _encode_words(self, words: tf.Tensor) -> tf.RaggedTensor:
        """Words [n] → their BPE token ids [n, (ids)], each distinct word merged once."""
        distinct, index = tf.unique(words)
        letters = tf.strings.bytes_split(distinct)
        codes = tf.cast(tf.reshape(tf.io.decode_raw(letters.flat_values, tf.uint8), [-1]), tf.int32)
        return tf.gather(self._merge_all(letters.with_flat_values(tf.gather(self._byte_ids, codes))), index)

    def _merge_all(self, symbols: tf.RaggedTensor) -> tf.RaggedTensor:
        """Apply merges to the symbol ids of every word [words, (symbols)] until none applies anywhere."""
        def merge_more(values, word_of, merged):
            return merged

        def step(values, word_of, merged):
            return self._merge_step(values, word_of, symbols.nrows())

        values = symbols.flat_values
        values, word_of, _ = tf.while_loop(
            merge_more, step, (values, symbols.value_rowids(), tf.size(values) > 0),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])))
        return tf.RaggedTensor.from_value_rowids(values, word_of, nrows=symbols.nrows())

    def _merge_step(self, values: tf.Tensor, word_of: tf.Tensor, num_words: tf.Tensor):
        """One round: in each word, merge every occurrence (left to right) of its lowest-ranked pair.

        ``values`` are the symbol ids of all words one after the other, ``word_of`` their word (sorted). Returns
        the new ``values`` and ``word_of``, and whether anything merged."""
        left, right, pair_word = values[:-1], values[1:], word_of[:-1]
        inside = tf.equal(pair_word, word_of[1:])
        rank = tf.where(inside, self._merge_rank.lookup(left * self._stride + right), self._no_merge)
        lowest = tf.math.unsorted_segment_min(rank, pair_word, num_words)
        chosen = inside & (rank < self._no_merge) & tf.equal(rank, tf.gather(lowest, pair_word))
        chosen = _every_other_from_left(chosen)
        merged_left = tf.where(chosen, tf.gather(self._merged_id, rank), left)
        new_values = tf.concat([merged_left, values[-1:]], axis=0)
        kept = tf.logical_not(tf.concat([[False], chosen], axis=0))  # each merged pair's right symbol goes
        return tf.boolean_mask(new_values, kept), tf.boolean_mask(word_of, kept), tf.reduce_any(chosen)


def _every_other_from_left(chosen: tf.Tensor) -> tf.Tensor:
    """Of consecutive chosen pairs (``a a a`` holds the pair ``(a, a)`` twice, overlapping), the 1st, 3rd, ...:
    the ones a left-to-right pass merges."""
    index = tf.range(tf.size(chosen))
    run = tf.cumsum(tf.cast(tf.logical_not(chosen), tf.int32))  # consecutive chosen pairs share a run number
    first = tf.gather(tf.math.unsorted_segment_min(tf.where(chosen, index, tf.int32.max), run, tf.size(chosen) + 1),
                      run)
    return chosen & tf.equal((index - first) % 2, 0)


def _merge_rank_table(pair_keys: Sequence[int]) -> tf.lookup.StaticHashTable:
    """Pair key → merge rank (the key's position), ``len(pair_keys)`` for pairs that never merge. A table with
    no keys cannot be built, so a tokenizer without merges gets one key no pair makes (-1)."""
    keys = list(pair_keys) or [-1]
    initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64), tf.range(len(keys), dtype=tf.int64))
    return tf.lookup.StaticHashTable(initializer, default_value=tf.constant(len(pair_keys), tf.int64))


def _check_vocabulary(vocabulary: Mapping[str, int], merges: Sequence[tuple[str, str]],
                      special_tokens: Sequence[str]) -> None:
    """ValueError unless the vocabulary holds every byte character, every merge's parts and result, and the
    special tokens."""
    missing_bytes = [char for char in bytes_to_unicode().values() if char not in vocabulary]
    if missing_bytes:
        raise ValueError(f"the vocabulary lacks {len(missing_bytes)} of the 256 byte characters, e.g. "
                         f"{missing_bytes[0]!r}: it is not a byte-level BPE vocabulary")
    for rank, (left, right) in enumerate(merges):
        missing = [token for token in (left, right, left + right) if token not in vocabulary]
        if missing:
            raise ValueError(f"merge {rank} ({left!r} {right!r}): {missing[0]!r} is not in the vocabulary")
    missing_special = [token for token in special_tokens if token not in vocabulary]
    if missing_special:
        raise ValueError(f"the special tokens {missing_special} are not in the vocabulary")
