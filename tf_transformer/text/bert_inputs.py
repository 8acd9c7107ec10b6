"""BERT-style model inputs built in the graph: `[START] pieces [END]` per text (`[START]`
plays BERT's `[CLS]`, `[END]` its `[SEP]`; a checkpoint's tokenizer gives its own `[CLS]`
and `[SEP]` ids) with the head, the tail or both of a longer text kept and markup
stripped, word-aligned pieces for tagging, and texts whose literal `[MASK]` markers
become the tokenizer's mask id."""

import tensorflow as tf

MASK_MARKER = "[MASK]"


MARKUP = r"<[a-zA-Z/!][^<>]{0,200}>"  # an HTML/XML tag, e.g. IMDb's `<br />`
KEEPS = ("head", "tail", "head+tail")
HEAD_SHARE = 128 / 510  # Sun et al. (2019): of 510 pieces, the first 128 and the last 382


def strip_markup(texts):
    """Strings with every HTML/XML tag (`<br />`, `<i>`, `</p>`) replaced by a space: markup
    is layout, not words, and must not reach the model as text."""
    return tf.strings.regex_replace(texts, MARKUP, " ")


def keep_pieces(ids, count, keep="head"):
    """Ragged ids `(batch, (n))` cut to at most `count` a row: the first `count` ("head"),
    the last ("tail"), or the first quarter and the last three quarters ("head+tail",
    Sun et al.'s 128 + 382 of 510)."""
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {', '.join(KEEPS)}, got {keep!r}")
    if keep == "head":
        return ids[:, :count]
    lengths = ids.row_lengths()
    over = tf.maximum(lengths - count, 0)
    head = 0 if keep == "tail" else round(count * HEAD_SHARE)
    # within each row: keep a position before `head`, or from `head + over` on
    rank = tf.ragged.range(lengths)
    kept = (rank < head) | (rank >= head + tf.expand_dims(over, 1))
    return tf.ragged.boolean_mask(ids, kept)


def frame(tokenizer, ids, seq_len, keep="head"):
    """Ragged ids `(batch, (n))` cut to `seq_len - 2` (`keep`: which part of a longer
    text; see `keep_pieces`) and framed by the tokenizer's start and end ids:
    `[START] ids [END]`."""
    ids = keep_pieces(ids, seq_len - 2, keep)
    batch = ids.nrows()
    start = tf.fill([batch, 1], tf.constant(tokenizer.start_id, ids.dtype))
    end = tf.fill([batch, 1], tf.constant(tokenizer.end_id, ids.dtype))
    return tf.concat([start, ids, end], axis=1)


def encode_texts(tokenizer, texts, seq_len, keep="head", markup=True):
    """Strings `(batch,)` to framed ragged ids `(batch, (n <= seq_len))`; `keep` says
    which pieces of a longer text stay, and `markup=False` strips HTML tags first."""
    if not markup:
        texts = strip_markup(texts)
    return frame(tokenizer, tokenizer.tokenize(texts), seq_len, keep)


def _pieces_of_words(tokenizer, words):
    """The pieces of each word of `words` (ragged strings `(batch, (w))`) as `(W, (p))`,
    every word at least one piece (`[UNK]` for a word the tokenizer drops)."""
    pieces = tokenizer.tokenize(words.flat_values)
    empty = tf.cast(tf.equal(pieces.row_lengths(), 0), tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tf.constant(tokenizer.unk_id, pieces.dtype)), empty
    )
    return tf.concat([pieces, unknown], axis=1)


def encode_words(tokenizer, words, seq_len):
    """Words `(batch, (w))` to framed ragged ids and the position of each word's first
    piece in them, `(batch, (w))`, or -1 where the cut to `seq_len` dropped the word."""
    pieces = _pieces_of_words(tokenizer, words)
    counts = pieces.row_lengths()
    global_start = tf.cumsum(counts, exclusive=True)
    row_first = tf.gather(tf.concat([global_start, [tf.reduce_sum(counts)]], 0), words.row_starts())
    start = global_start - tf.repeat(row_first, words.row_lengths()) + 1  # after [START]
    start = tf.where(start < seq_len - 1, start, -1)
    ids = tf.RaggedTensor.from_row_lengths(pieces, words.row_lengths()).merge_dims(1, 2)
    return frame(tokenizer, ids, seq_len), words.with_flat_values(tf.cast(start, tf.int32))


def word_labels(tokenizer, words, tags, seq_len):
    """Framed ids and dense labels `(batch, n)` for tagging: `tag + 1` at each word's
    first piece, 0 (ignored by the masked loss) at its other pieces and the frame."""
    ids, starts = encode_words(tokenizer, words, seq_len)
    kept = starts.flat_values >= 0
    rows = tf.cast(starts.value_rowids(), tf.int32)
    indices = tf.stack([tf.boolean_mask(rows, kept), tf.boolean_mask(starts.flat_values, kept)], 1)
    values = tf.boolean_mask(tf.cast(tags.flat_values, tf.int32), kept) + 1
    shape = tf.cast(tf.stack([ids.nrows(), tf.reduce_max(ids.row_lengths())]), tf.int32)
    labels = tf.scatter_nd(indices, values, shape)
    return ids, labels


def encode_with_masks(tokenizer, texts, seq_len):
    """Strings with literal `[MASK]` markers to framed ragged ids, the mask id there."""
    parts = tf.strings.split(texts, sep=MASK_MARKER)
    pieces = tokenizer.tokenize(parts.flat_values)
    marker = tf.fill([pieces.nrows(), 1], tf.constant(tokenizer.mask_id, pieces.dtype))
    pieces = tf.concat([pieces, marker], axis=1)  # a marker after every part ...
    ids = tf.RaggedTensor.from_row_lengths(pieces, parts.row_lengths()).merge_dims(1, 2)
    return frame(tokenizer, ids[:, :-1], seq_len)  # ... but the last
