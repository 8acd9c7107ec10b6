"""BERT-style model inputs built in the graph: `[START] pieces [END]` per text (`[START]`
plays BERT's `[CLS]`, `[END]` its `[SEP]`; a checkpoint's tokenizer gives its own `[CLS]`
and `[SEP]` ids), word-aligned pieces for tagging, and texts whose literal `[MASK]`
markers become the tokenizer's mask id."""

import tensorflow as tf

MASK_MARKER = "[MASK]"


def frame(tokenizer, ids, seq_len):
    """Ragged ids `(batch, (n))` cut to `seq_len - 2` and framed by the tokenizer's start
    and end ids: `[START] ids [END]`."""
    ids = ids[:, : seq_len - 2]
    batch = ids.nrows()
    start = tf.fill([batch, 1], tf.constant(tokenizer.start_id, ids.dtype))
    end = tf.fill([batch, 1], tf.constant(tokenizer.end_id, ids.dtype))
    return tf.concat([start, ids, end], axis=1)


def encode_texts(tokenizer, texts, seq_len):
    """Strings `(batch,)` to framed ragged ids `(batch, (n <= seq_len))`."""
    return frame(tokenizer, tokenizer.tokenize(texts), seq_len)


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
