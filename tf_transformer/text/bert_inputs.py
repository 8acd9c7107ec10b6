"""BERT-style model inputs built in the graph: `[START] pieces [END]` per text (`[START]`
plays BERT's `[CLS]`, `[END]` its `[SEP]`; a checkpoint's tokenizer gives its own `[CLS]`
and `[SEP]` ids) with the head, the tail or both of a longer text kept and markup
stripped, pairs of texts `[START] a [END] b [END]` with segment ids, word-aligned pieces
for tagging, and texts whose literal `[MASK]` markers become the tokenizer's mask id."""

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text.tokenizer import PAD_ID

MASK_MARKER = "[MASK]"


MARKUP = r"<[a-zA-Z/!][^<>]{0,200}>"  # an HTML/XML tag, e.g. IMDb's `<br />`
KEEPS = ("head", "tail", "head+tail")
HEAD_SHARE = 128 / 510  # Sun et al. (2019): of 510 pieces, the first 128 and the last 382


def padded(ids):
    """Framed ragged ids as a dense batch padded with id 0, which the encoder masks (every
    BERT vocabulary's `[PAD]`); an empty batch keeps a width of 2 (`[START] [END]`), so
    that reading the first position still works."""
    dense = ids.to_tensor(default_value=PAD_ID)
    return tf.pad(dense, [[0, 0], [0, tf.maximum(2 - tf.shape(dense)[1], 0)]])


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


def longest_first(first, second, budget):
    """Ragged ids `first` and `second` cut so that each row's two hold at most `budget`
    pieces together, longest first, as Hugging Face's `longest_first` truncation cuts:
    only the longer loses pieces (from its end) while the shorter fits in half the budget;
    else each keeps half, the longer the odd piece (of two as long, `second`). TF Text's
    `ShrinkLongestTrimmer` gives the odd piece to the other text in some of those cases."""
    a, b = first.row_lengths(), second.row_lengths()
    budget = tf.cast(budget, a.dtype)
    half = budget // 2
    keep_a = tf.where(
        a + b <= budget,
        a,
        tf.where(
            b <= half, budget - b, tf.where(a <= half, a, tf.where(a > b, budget - half, half))
        ),
    )
    keep_b = tf.minimum(b, budget - keep_a)

    def cut(ids, keep):
        return tf.ragged.boolean_mask(ids, tf.ragged.range(ids.row_lengths()) < keep[:, None])

    return cut(first, keep_a), cut(second, keep_b)


def encode_pairs(tokenizer, texts, pairs, seq_len, markup=True):
    """Two strings a row, `(batch,)` each, to BERT's pair input `[START] a [END] b [END]`
    (`[CLS] a [SEP] b [SEP]`) with segment ids 0 up to the first `[END]` and 1 after it,
    as published checkpoints were trained; a pair longer than `seq_len` loses pieces from
    the end of the longer text first (`longest_first`), and TF Text's `combine_segments`
    frames the two. `markup=False` strips HTML tags from both texts first.

    Returns ragged `(ids, segment_ids)`, `(batch, (n <= seq_len))` each."""
    if not markup:
        texts, pairs = strip_markup(texts), strip_markup(pairs)
    segments = longest_first(tokenizer.tokenize(texts), tokenizer.tokenize(pairs), seq_len - 3)
    ids, segment_ids = tf_text.combine_segments(
        list(segments), tokenizer.start_id, tokenizer.end_id
    )
    return ids, tf.cast(segment_ids, ids.dtype)


def _pieces_of_words(tokenizer, words):
    """The pieces of each word of `words` (ragged strings `(batch, (w))`) as `(W, (p))`,
    every word at least one piece (`[UNK]` for a word the tokenizer drops)."""
    pieces = tokenizer.tokenize(words.flat_values)
    empty = tf.cast(tf.equal(pieces.row_lengths(), 0), tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tf.constant(tokenizer.unk_id, pieces.dtype)), empty
    )
    return tf.concat([pieces, unknown], axis=1)


MAX_WORD_PIECES = 16  # a longer word keeps its first pieces (its tag is read at the first)


def encode_words(tokenizer, words, seq_len, max_word_pieces=MAX_WORD_PIECES):
    """Words `(batch, (w))` in windows of whole words that fit `seq_len`, so that no word
    is cut off: a text whose pieces fit is one window; a longer one is cut between words
    into several, each framed `[START] ... [END]`, each word read with the context of its
    own window. A word keeps its first `max_word_pieces` pieces (at most half a window).

    Returns `(ids, window, position)`: framed ragged ids `(windows, (n <= seq_len))`, and
    for every word, ragged `(batch, (w))`, the window it is in and the position of its
    first piece there. A text's windows are consecutive and in order; an empty text has
    none."""
    max_word_pieces = max(1, min(max_word_pieces, (seq_len - 2) // 2))
    budget = seq_len - 2 - (max_word_pieces - 1)  # word starts a window may hold
    pieces = _pieces_of_words(tokenizer, words)[:, :max_word_pieces]
    counts = pieces.row_lengths()
    global_start = tf.cumsum(counts, exclusive=True)
    row_first = tf.gather(tf.concat([global_start, [tf.reduce_sum(counts)]], 0), words.row_starts())
    start = global_start - tf.repeat(row_first, words.row_lengths())  # within the text
    in_text = start // budget  # the window of each word, within its text
    per_text = tf.maximum(tf.reduce_max(words.with_flat_values(in_text), axis=1) + 1, 0)
    first_window = tf.cumsum(per_text, exclusive=True)
    window = tf.repeat(first_window, words.row_lengths()) + in_text
    windows = tf.reduce_sum(per_text)
    words_a_window = tf.math.bincount(
        tf.cast(window, tf.int32), minlength=tf.cast(windows, tf.int32), dtype=tf.int64
    )
    window_start = tf.gather(start, tf.cumsum(words_a_window, exclusive=True))  # its 1st word's
    position = start - tf.gather(window_start, window) + 1  # after [START]
    ids = tf.RaggedTensor.from_row_lengths(pieces, words_a_window).merge_dims(1, 2)
    return (
        frame(tokenizer, ids, seq_len),
        words.with_flat_values(tf.cast(window, tf.int32)),
        words.with_flat_values(tf.cast(position, tf.int32)),
    )


def tagger_inputs(tokenizer, words, seq_len, features=None):
    """A tagger's inputs for words `(batch, (w))`, in windows of whole words (see
    `encode_words`): the padded token ids of the windows or, with `features`
    (`word_features.WordFeatures`), a dict of them (`token_ids`) and each word's own ids
    at its first piece (`word_ids` `(windows, n)` and `char_ids` `(windows, n,
    characters)`, 0 elsewhere). Returns `(inputs, window, position)`."""
    ids, window, position = encode_words(tokenizer, words, seq_len)
    token_ids = padded(ids)
    if features is None:
        return token_ids, window, position
    index = tf.stack([window.flat_values, position.flat_values], axis=1)
    word_ids, char_ids = features.lookup(words.flat_values)
    shape = tf.shape(token_ids)
    letters = tf.concat([shape, [features.max_characters]], axis=0)
    inputs = {
        "token_ids": token_ids,
        "word_ids": tf.scatter_nd(index, word_ids, shape),
        "char_ids": tf.scatter_nd(index, char_ids, letters),
    }
    return inputs, window, position


def word_labels(tokenizer, words, tags, seq_len, features=None):
    """A tagger's inputs for the words' windows (see `tagger_inputs`) and dense labels
    `(windows, n)`: `tag + 1` at each word's first piece, 0 (ignored by the masked loss)
    at its other pieces, the frame and the padding."""
    inputs, window, position = tagger_inputs(tokenizer, words, seq_len, features)
    indices = tf.stack([window.flat_values, position.flat_values], 1)
    values = tf.cast(tags.flat_values, tf.int32) + 1
    token_ids = inputs["token_ids"] if features is not None else inputs
    labels = tf.scatter_nd(indices, values, tf.shape(token_ids))
    return inputs, labels


def encode_with_masks(tokenizer, texts, seq_len):
    """Strings with literal `[MASK]` markers to framed ragged ids, the mask id there."""
    parts = tf.strings.split(texts, sep=MASK_MARKER)
    pieces = tokenizer.tokenize(parts.flat_values)
    marker = tf.fill([pieces.nrows(), 1], tf.constant(tokenizer.mask_id, pieces.dtype))
    pieces = tf.concat([pieces, marker], axis=1)  # a marker after every part ...
    ids = tf.RaggedTensor.from_row_lengths(pieces, parts.row_lengths()).merge_dims(1, 2)
    return frame(tokenizer, ids[:, :-1], seq_len)  # ... but the last
