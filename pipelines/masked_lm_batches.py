"""BERT's batches: masked-LM batches (BERT's 80/10/10 masking, seeded, of single texts or
of documents packed into full windows, piece by piece or whole words), classification and
tagging batches, and shuffled batches of texts of similar lengths."""

import math

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text import MASK_ID, PAD_ID, RESERVED_TOKENS
from tf_transformer.text.bert_inputs import encode_pairs, encode_texts, frame, word_labels

AUTOTUNE = tf.data.AUTOTUNE


def max_predictions(seq_len, mask_rate=0.15, whole_words=False):
    """The most positions `mask_tokens` predicts in one sequence of `seq_len` tokens; a
    quarter more with whole words (a chosen word may be several pieces)."""
    count = max(1, math.ceil(seq_len * mask_rate))
    return count + math.ceil(count / 4) if whole_words else count


class _SeededChooser(tf_text.MaskValuesChooser):
    """TF Text's chooser (80% `[MASK]`, 10% a random id, 10% unchanged) drawing from a
    stateless generator: the same `seed` gives the same choices."""

    def __init__(self, vocab_size, mask_id, seed):
        super().__init__(vocab_size, mask_id, mask_token_rate=0.8, random_token_rate=0.1)
        self.seed = seed

    def get_mask_values(self, masked_lm_ids):
        ids = masked_lm_ids.flat_values
        seeds = tf.random.experimental.stateless_split(self.seed, 2)
        draw = tf.random.stateless_uniform(tf.shape(ids), seeds[0])
        random_ids = tf.random.stateless_uniform(
            tf.shape(ids), seeds[1], minval=0, maxval=self.vocab_size, dtype=tf.int64
        )
        values = tf.where(
            draw < 0.8,
            tf.cast(self.mask_token, ids.dtype),
            tf.where(draw < 0.9, tf.cast(random_ids, ids.dtype), ids),
        )
        return masked_lm_ids.with_flat_values(values)


def _seeded_shuffle(seed, size):
    """A shuffle of a row's flat token positions (what `RandomItemSelector` shuffles, row
    by row) by one random key a token of the batch, drawn once from `seed`."""
    keys = tf.random.stateless_uniform([size], seed)

    def shuffle(positions):
        return tf.gather(positions, tf.argsort(tf.gather(keys, positions)))

    return shuffle


def mask_tokens(
    ids,
    vocab_size,
    seq_len,
    mask_rate=0.15,
    seed=None,
    mask_id=MASK_ID,
    special_ids=None,
    continuation=None,
):
    """BERT masking of ragged framed `ids` with TF Text's `mask_language_model`.

    Of each row's tokens other than `special_ids` (default the reserved ids 0-4; a
    checkpoint's tokenizer has its own), `ceil(mask_rate * n)` are selected; of those 80%
    become `mask_id`, 10% a random token, 10% stay. Returns `(masked_ids, positions,
    labels)`: `masked_ids` ragged like `ids`; `positions` and `labels` `(batch,
    max_predictions)`, the selected positions and their original ids, padded with 0 (label
    0 is `[PAD]`, which the masked loss ignores).

    `continuation` (a boolean per vocabulary id: the piece continues a word, WordPiece's
    `##`) masks whole words: the selection draws words, `mask_rate` of them, and every
    piece of a chosen word is masked (each piece's value chosen on its own, 80/10/10).
    At most `max_predictions(seq_len, mask_rate, whole_words=True)` pieces a row; pieces
    past that stay unmasked.

    `seed` (a shape-`[2]` integer tensor or pair) makes the choices a function of the seed
    (stateless random ops): the same ids and seed mask the same positions the same way.
    Without it, TF's global random state decides.
    """
    whole_words = continuation is not None
    width = max_predictions(seq_len, mask_rate, whole_words)
    special = list(range(len(RESERVED_TOKENS)) if special_ids is None else special_ids)
    if seed is not None:
        seed = tf.cast(seed, tf.int64)
        selection_seed, value_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        chooser = _SeededChooser(vocab_size, mask_id, value_seed)
        shuffle_fn = _seeded_shuffle(selection_seed, tf.size(ids.flat_values))
    else:
        chooser = tf_text.MaskValuesChooser(
            vocab_size, mask_token=mask_id, mask_token_rate=0.8, random_token_rate=0.1
        )
        shuffle_fn = None
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=max_predictions(seq_len, mask_rate),
        selection_rate=mask_rate,
        unselectable_ids=special,
        shuffle_fn=shuffle_fn,
    )
    items = _words(ids, continuation) if whole_words else ids
    masked, positions, original = tf_text.mask_language_model(items, selector, chooser)
    if whole_words:  # masked comes back as (batch, (pieces)), positions counting pieces
        masked = _unmask_past(masked, ids, positions, width)

    def is_special(values):  # ragged in, ragged out
        def flat(v):
            return tf.reduce_any(tf.equal(v[:, None], tf.constant(special, v.dtype)[None]), 1)

        return tf.ragged.map_flat_values(flat, values)

    # A random replacement that lands on a special id (e.g. [PAD]) would read as special:
    # keep the original token there instead, which is one of BERT's three outcomes anyway.
    landed = is_special(masked) & (masked != mask_id) & tf.logical_not(is_special(ids))
    masked = tf.where(landed, ids, masked)
    positions = tf.cast(positions, tf.int32)[:, :width].to_tensor(0, shape=[None, width])
    labels = tf.cast(original, tf.int32)[:, :width].to_tensor(PAD_ID, shape=[None, width])
    return masked, positions, labels


def _words(ids, continuation):
    """Ragged `(batch, (pieces))` ids as `(batch, (words), (pieces))`: a word is a piece
    that does not continue one and the continuing pieces after it (a row's first piece
    starts a word, even mid-word where a packed window begins)."""
    flat = ids.flat_values
    starts = tf.logical_not(tf.gather(continuation, tf.cast(flat, tf.int32))) | _row_firsts(ids)
    words = tf.RaggedTensor.from_value_rowids(flat, tf.cumsum(tf.cast(starts, tf.int64)) - 1)
    word_rows = tf.boolean_mask(ids.value_rowids(), starts)
    return tf.RaggedTensor.from_value_rowids(words, word_rows, nrows=ids.nrows())


def _row_firsts(ids):
    """Per flat value of ragged `ids`: whether it is its row's first."""
    positions = tf.range(tf.size(ids.flat_values, tf.int64))
    return tf.equal(positions, tf.gather(ids.row_starts(), ids.value_rowids()))


def _unmask_past(masked, ids, positions, width):
    """`masked` with the original ids back at every selected position past a row's
    first `width` (whole words can select more pieces than a row's predictions hold)."""
    rank = tf.ragged.range(positions.row_lengths())
    extra = tf.ragged.boolean_mask(positions, rank >= width)
    rows = tf.cast(extra.value_rowids(), tf.int64)
    flat_index = tf.gather(masked.row_starts(), rows) + tf.cast(extra.flat_values, tf.int64)
    restore = tf.scatter_nd(
        flat_index[:, None], tf.ones_like(flat_index, tf.bool), tf.shape(ids.flat_values, tf.int64)
    )
    return masked.with_flat_values(tf.where(restore, ids.flat_values, masked.flat_values))


def make_mlm_batches(
    texts: tf.data.Dataset,
    tokenizer,
    seq_len: int = 128,
    batch_size: int = 32,
    mask_rate: float = 0.15,
    shuffle: int = 10000,
    seed: int = None,
) -> tf.data.Dataset:
    """`({"token_ids", "mask_positions"}, labels)` batches from a dataset of strings.

    Each text becomes `[START] pieces [END]` (cut to `seq_len`), padded to the longest in
    its batch (shuffled batches hold texts of similar lengths: `similar_lengths`);
    masking runs in `map`, so every pass over the data masks anew. With `seed`, the order
    and every pass's masks follow from it (a resumed run sees the masks it would have
    seen).
    """
    if shuffle:
        dataset = similar_lengths(texts.shuffle(shuffle, seed=seed), batch_size, seed)
    else:
        dataset = texts.batch(batch_size)
    encode = lambda batch: encode_texts(tokenizer, batch, seq_len)  # noqa: E731
    return _masked(dataset, encode, tokenizer, seq_len, mask_rate, seed)


def _masked(batches, encode, tokenizer, seq_len, mask_rate, seed, continuation=None):
    """`({"token_ids", "mask_positions"}, labels)` of each batch: `encode(batch)` gives
    its framed ragged ids, `mask_tokens` masks them in `map` (so every pass masks anew),
    with a stateless seed a batch drawn from `seed` (new on every pass) where given."""
    special = sorted({i for i in tokenizer.special_ids.values() if i is not None})

    def to_example(batch, batch_seed=None):
        masked, positions, labels = mask_tokens(
            encode(batch),
            tokenizer.vocab_size,
            seq_len,
            mask_rate,
            batch_seed,
            tokenizer.mask_id,
            special,
            continuation,
        )
        return {"token_ids": masked.to_tensor(PAD_ID), "mask_positions": positions}, labels

    if seed is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        batches = tf.data.Dataset.zip(batches, seeds)
    return batches.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def continuation_ids(tokenizer):
    """Per vocabulary id, whether the piece continues a word (WordPiece's `##` pieces), for
    whole-word masking; None for a tokenizer without such pieces."""
    vocab = tokenizer.vocab
    continues = tf.strings.regex_full_match(vocab, "##.+")
    return continues if bool(tf.reduce_any(continues)) else None


def pack_documents(documents, tokenizer, seq_len, group=512, clean=None):
    """Full windows of `seq_len` ids from a dataset of documents (strings): `group`
    documents at a time are tokenized, joined with the tokenizer's end id between them,
    cut into runs of `seq_len - 2` pieces and each framed `[START] run [END]`; a group's
    last partial run is dropped. No window holds padding. `clean` (strings to strings)
    runs first, e.g. `strip_markup`."""
    body = seq_len - 2
    end = tokenizer.end_id

    def windows(texts):
        if clean is not None:
            texts = clean(texts)
        pieces = tokenizer.tokenize(texts)
        separator = tf.fill([pieces.nrows(), 1], tf.constant(end, pieces.dtype))
        flat = tf.concat([pieces, separator], axis=1).flat_values
        runs = tf.reshape(flat[: tf.size(flat) // body * body], [-1, body])
        return frame(tokenizer, tf.RaggedTensor.from_tensor(runs), seq_len).to_tensor()

    return documents.batch(group).map(windows, num_parallel_calls=AUTOTUNE).unbatch()


def count_windows(documents, tokenizer, seq_len, clean=None) -> int:
    """How many windows `pack_documents` makes of `documents` (one pass of tokenizing)."""
    windows = pack_documents(documents, tokenizer, seq_len, clean=clean)
    return int(windows.batch(4096).reduce(0, lambda n, batch: n + tf.shape(batch)[0]))


def make_pretraining_batches(
    windows: tf.data.Dataset,
    tokenizer,
    seq_len: int = 128,
    batch_size: int = 32,
    mask_rate: float = 0.15,
    shuffle: int = 0,
    seed: int = None,
    whole_words: bool = True,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """`({"token_ids", "mask_positions"}, labels)` batches of packed windows
    (`pack_documents`), masked anew on every pass (seeded as `make_mlm_batches`); with
    `whole_words` (and a tokenizer with `##` pieces) whole words are masked together.
    Every training batch is full (`drop_remainder`); validation keeps its last one."""
    if shuffle:
        windows = windows.shuffle(shuffle, seed=seed)
    continuation = continuation_ids(tokenizer) if whole_words else None
    batches = windows.batch(batch_size, drop_remainder=drop_remainder)
    return _masked(
        batches, tf.RaggedTensor.from_tensor, tokenizer, seq_len, mask_rate, seed, continuation
    )


def make_classification_batches(
    examples,
    tokenizer,
    seq_len=128,
    batch_size=32,
    shuffle=0,
    seed=None,
    keep="head",
    markup=True,
):
    """`(token_ids, label)` batches from a dataset of `(text, label id)`, and
    `({"token_ids", "segment_ids"}, label)` from one of `((text, pair), label id)`
    (`encode_pairs`); shuffled ones hold texts of similar lengths (`similar_lengths`).
    `keep` (single texts) and `markup` as `encode_texts`."""
    if shuffle:
        dataset = similar_lengths(examples.shuffle(shuffle, seed=seed), batch_size, seed)
    else:
        dataset = examples.batch(batch_size)

    def to_example(texts, labels):
        if isinstance(texts, tuple):
            ids, segments = encode_pairs(tokenizer, *texts, seq_len, markup)
            inputs = {"token_ids": ids.to_tensor(PAD_ID), "segment_ids": segments.to_tensor(0)}
            return inputs, labels
        return encode_texts(tokenizer, texts, seq_len, keep, markup).to_tensor(PAD_ID), labels

    return dataset.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


POOL = 32  # batches whose texts are sorted by length together


def similar_lengths(examples, batch_size, seed=None, pool=POOL):
    """Batches of shuffled `examples` (strings, or tuples whose first item is the text or
    a tuple of texts, measured together) with texts of similar lengths, as BERT's batches
    are padded to their longest: each
    run of `pool` batches is sorted by text length, cut into batches, and those batches
    shuffled. The same number of batches as `examples.batch(batch_size)`, each example
    once."""
    count = int(examples.cardinality())

    def by_length(*columns):
        lengths = tf.add_n([tf.strings.length(text) for text in tf.nest.flatten(columns[0])])
        order = tf.argsort(lengths, stable=True)
        ordered = tf.nest.map_structure(lambda column: tf.gather(column, order), columns)
        return ordered if len(ordered) > 1 else ordered[0]

    batches = (
        examples.batch(batch_size * pool)
        .map(by_length, num_parallel_calls=AUTOTUNE)
        .unbatch()
        .batch(batch_size)
        .shuffle(pool, seed=seed)
    )
    if count >= 0:  # known: say so, as `batch` would (the recipes count steps by it)
        batches = batches.apply(tf.data.experimental.assert_cardinality(-(-count // batch_size)))
    return batches


def make_tagging_batches(
    examples, tokenizer, seq_len=128, batch_size=32, shuffle=0, seed=None, features=None
):
    """`(inputs, labels)` batches from a dataset of `(words, tag ids)`: `inputs` the
    windows' token ids (with `features`, a dict of them and the words' own ids: see
    `bert_inputs.tagger_inputs`), `labels` `tag + 1` at each word's first piece and 0
    (ignored) elsewhere."""
    dataset = examples.shuffle(shuffle, seed=seed) if shuffle else examples

    def to_example(words, tags):
        return word_labels(tokenizer, words, tags, seq_len, features)

    batched = dataset.ragged_batch(batch_size)
    return batched.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
