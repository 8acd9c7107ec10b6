"""GPT-2's byte-level BPE in the graph, from a checkpoint's `vocab.json` and `merges.txt`.

Text is split as GPT-2 splits it (contractions, letters, numbers, other symbols and
whitespace runs, a single space kept in front of the word after it), every piece's UTF-8
bytes are written as GPT-2's printable stand-in characters, and the merges are applied
in rank order to all the pieces of a batch at once in one `tf.while_loop`. Only TF core
and TF Text ops, so it runs in `tf.data` and inside exported SavedModels.
"""

import json

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text.tokenizer import Tokenizer

END_OF_TEXT = "<|endoftext|>"

# Python `regex`'s `\s` (Unicode White_Space); RE2's own `\s` is ASCII only.
_SPACE = r"\t\n\x{0b}\f\r\x{85}\p{Z}"
_PIECE = (
    r"'s|'t|'re|'ve|'m|'ll|'d"
    rf"| ?\p{{L}}+| ?\p{{N}}+| ?[^{_SPACE}\p{{L}}\p{{N}}]+|[{_SPACE}]+"
)
_NO_MERGE = 2**30
# TF Text's regex split ends a text at its first NUL, so NUL travels through the split
# written as two private-use characters (of the same "other symbol" class, so no piece
# boundary moves): U+E000 U+E002, and a text's own U+E000 as U+E000 U+E001.
_ESCAPE, _ESCAPED_ESCAPE, _ESCAPED_NUL = "\ue000", "\ue000\ue001", "\ue000\ue002"


def byte_characters():
    """GPT-2's printable character for each byte 0..255: the bytes that are printable
    Latin-1 characters (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for themselves, the others take
    the code points from 256 up, in byte order (a space is `Ġ`, a newline `Ċ`)."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = (b for b in range(256) if b not in printable)
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + n) for n, b in enumerate(others)})
    return [table[b] for b in range(256)]


class BytePairTokenizer(Tokenizer):
    """GPT-2's tokenizer: lossless, `detokenize(tokenize(x)) == x` for any UTF-8 text.

    `<|endoftext|>` is the start, end and padding id (GPT-2 has no other special token),
    and a literal `<|endoftext|>` in a text is tokenized as the characters it is made of.

    Example (the files of any GPT-2 checkpoint):
    ```python
    tokenizer = BytePairTokenizer.from_files("gpt2/vocab.json", "gpt2/merges.txt")
    ids = tokenizer.tokenize(tf.constant(["Hello world"]))  # [[15496, 995]] for GPT-2
    ```
    """

    def __init__(self, vocab, merges, name="byte_pair_tokenizer", special_text=()):
        vocab = list(vocab)
        if END_OF_TEXT not in vocab:
            raise ValueError(f"the vocabulary has no {END_OF_TEXT} token")
        end = vocab.index(END_OF_TEXT)
        special = {"pad": end, "unk": end, "start": end, "end": end, "mask": None}
        super().__init__(vocab, name=name, special_ids=special, special_text=special_text)
        self.merges = [tuple(m) for m in merges]
        self._ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(vocab, tf.range(len(vocab), dtype=tf.int32)),
            default_value=end,
        )
        self._ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                [f"{a} {b}" for a, b in self.merges], tf.range(len(self.merges), dtype=tf.int32)
            ),
            default_value=_NO_MERGE,
        )
        characters = byte_characters()
        self._byte_to_char = tf.constant(characters)
        self._char_to_byte = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                characters, tf.constant([bytes([b]) for b in range(256)])
            ),
            default_value="",
        )

    @classmethod
    def from_files(cls, vocab_json, merges_txt, special_text=()):
        """A checkpoint's `vocab.json` (token -> id) and `merges.txt` (one pair a line)."""
        return cls(*read_files(vocab_json, merges_txt), special_text=special_text)

    def _tokenize(self, strings):
        escaped = tf.strings.regex_replace(strings, _ESCAPE, _ESCAPED_ESCAPE)
        escaped = tf.strings.regex_replace(escaped, r"\x{00}", _ESCAPED_NUL)
        pieces = _split_pieces(escaped)
        pieces = pieces.with_flat_values(_unescape(pieces.flat_values))
        unique, index = tf.unique(pieces.flat_values)
        words = tf.shape(unique, out_type=tf.int64)[0]
        as_bytes = tf.strings.bytes_split(unique)
        values = tf.io.decode_raw(as_bytes.flat_values, tf.uint8, fixed_length=1)[:, 0]
        chars = tf.gather(self._byte_to_char, tf.cast(values, tf.int32))
        symbols, rows = self._merge(chars, as_bytes.value_rowids(), words)
        ids = tf.RaggedTensor.from_value_rowids(self._ids.lookup(symbols), rows, nrows=words)
        ids = tf.gather(ids, index)  # (pieces, (tokens))
        return pieces.with_flat_values(ids).merge_dims(1, 2)

    def _merge(self, symbols, rows, words):
        """Applies the merges to every word (`symbols` flat, `rows` their word) until no
        adjacent pair of any word has a rank: each round merges, in every word, all
        non-overlapping occurrences (from the left) of that word's best-ranked pair."""

        def one_round(symbols, rows, _):
            size = tf.size(symbols)
            following = tf.concat([symbols[1:], [""]], 0)[:size]
            same_word = tf.concat([tf.equal(rows[1:], rows[:-1]), [False]], 0)[:size]
            ranks = self._ranks.lookup(tf.strings.join([symbols, following], " "))
            ranks = tf.where(same_word, ranks, _NO_MERGE)
            best = tf.math.unsorted_segment_min(ranks, rows, words)
            match = tf.equal(ranks, tf.gather(best, rows)) & (ranks < _NO_MERGE)
            # A pair (a, a) can match at consecutive positions ("a a a"): of each such run
            # merge the first, third, ... as a left-to-right scan does.
            starts = match & tf.logical_not(tf.concat([[False], match], 0)[:size])
            run = tf.cumsum(tf.cast(starts, tf.int32))  # 1 + the run's number, 0 before any
            first = tf.gather(tf.concat([[0], tf.cast(tf.where(starts)[:, 0], tf.int32)], 0), run)
            offset = tf.range(size) - first
            merge = match & tf.equal(offset % 2, 0)
            merged = tf.where(merge, tf.strings.join([symbols, following]), symbols)
            kept = tf.logical_not(tf.concat([[False], merge], 0)[:size])
            return (
                tf.boolean_mask(merged, kept),
                tf.boolean_mask(rows, kept),
                tf.reduce_any(merge),
            )

        symbols, rows, _ = tf.while_loop(
            lambda s, r, changed: changed,
            one_round,
            (symbols, rows, tf.constant(True)),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])),
        )
        return symbols, rows

    def _detokenize(self, ids):
        text = tf.strings.reduce_join(tf.gather(self.vocab, ids), axis=-1)
        chars = tf.strings.unicode_split(text, "UTF-8")
        as_bytes = chars.with_flat_values(self._char_to_byte.lookup(chars.flat_values))
        return tf.strings.reduce_join(as_bytes, axis=-1)

    file_name = "byte_pair.json"

    def file_bytes(self) -> bytes:
        vocab = [t.decode("utf-8") for t in self.vocab.numpy()]
        merges = [" ".join(pair) for pair in self.merges]
        saved = {"vocab": vocab, "merges": merges, "special_text": list(self.special_text)}
        return json.dumps(saved, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes):
        saved = json.loads(data.decode("utf-8"))
        merges = [m.split(" ") for m in saved["merges"]]
        return cls(saved["vocab"], merges, special_text=saved.get("special_text", ()))


def _split_pieces(strings):
    """GPT-2's pre-tokenization: ragged pieces `(batch, (p))`.

    GPT-2's pattern ends in `\\s+(?!\\S)|\\s+`: a whitespace run followed by text gives
    its last character to what follows (a space joins the word after it). RE2 has no
    look-ahead, so each text is first cut before the last character of every such run of
    two or more characters, and the pattern without look-ahead then splits each part.
    """
    runs, begins, ends = tf_text.regex_split_with_offsets(strings, rf"[{_SPACE}]+", rf"[{_SPACE}]+")
    lengths = tf.strings.length(strings, "BYTE")
    last_bytes = tf.strings.length(  # of a run's last character
        tf.strings.regex_replace(runs.flat_values, rf"(?s)^.*([{_SPACE}])$", r"\1"), "BYTE"
    )
    is_run = tf.strings.regex_full_match(runs.flat_values, rf"[{_SPACE}]{{2,}}")
    row_length = tf.gather(lengths, runs.value_rowids())
    cut = is_run & (ends.flat_values < tf.cast(row_length, ends.dtype))
    cuts = runs.with_flat_values(ends.flat_values - tf.cast(last_bytes, ends.dtype))
    cuts = tf.ragged.boolean_mask(cuts, runs.with_flat_values(cut))
    zero = tf.zeros([cuts.nrows(), 1], cuts.dtype)
    bounds = tf.concat([zero, cuts, tf.cast(lengths, cuts.dtype)[:, None]], axis=1)
    starts, stops = bounds[:, :-1], bounds[:, 1:]
    parts = tf.strings.substr(
        tf.gather(strings, starts.value_rowids()),
        starts.flat_values,
        stops.flat_values - starts.flat_values,
    )
    pieces = tf_text.regex_split(parts, _PIECE, _PIECE)  # (parts, (p))
    return tf.RaggedTensor.from_row_lengths(pieces, starts.row_lengths()).merge_dims(1, 2)


def _unescape(pieces):
    pieces = tf.strings.regex_replace(pieces, _ESCAPED_NUL, "\x00")
    return tf.strings.regex_replace(pieces, _ESCAPED_ESCAPE, _ESCAPE)


def read_files(vocab_json, merges_txt):
    """`(vocab, merges)` of a checkpoint's `vocab.json` and `merges.txt`."""
    with open(vocab_json, encoding="utf-8") as handle:
        ids = json.load(handle)
    with open(merges_txt, encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    return vocab_by_id(ids, vocab_json), _merge_pairs(lines, merges_txt)


def vocab_by_id(ids, path):
    """A token -> id map (`vocab.json`'s, `tokenizer.json`'s) as a list by id; ids must be
    0..n-1, each once."""
    vocab = [None] * len(ids)
    for token, index in ids.items():
        if not isinstance(index, int) or not 0 <= index < len(ids) or vocab[index] is not None:
            raise ValueError(f"{path}: token ids must be 0..{len(ids) - 1}, each once")
        vocab[index] = token
    return vocab


def _merge_pairs(lines, path):
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line or (number == 1 and line.startswith("#version")):
            continue
        pair = line.split(" ")
        if len(pair) != 2:
            raise ValueError(f"{path}:{number}: a merge is two tokens and a space, got {line!r}")
        pairs.append(pair)
    return pairs
