"""BERT's batches: masked-LM batches (BERT's 80/10/10 masking, seeded), classification and
tagging batches, and shuffled batches of texts of similar lengths."""

import math

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text import MASK_ID, PAD_ID, RESERVED_TOKENS
from tf_transformer.text.bert_inputs import encode_texts, word_labels

AUTOTUNE = tf.data.AUTOTUNE


def max_predictions(seq_len, mask_rate=0.15):
    """The most positions `mask_tokens` selects in one sequence of `seq_len` tokens."""
    return max(1, math.ceil(seq_len * mask_rate))


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
    ids, vocab_size, seq_len, mask_rate=0.15, seed=None, mask_id=MASK_ID, special_ids=None
):
    """BERT masking of ragged framed `ids` with TF Text's `mask_language_model`.

    Of each row's tokens other than `special_ids` (default the reserved ids 0-4; a
    checkpoint's tokenizer has its own), `ceil(mask_rate * n)` are selected; of those 80%
    become `mask_id`, 10% a random token, 10% stay. Returns `(masked_ids, positions,
    labels)`: `masked_ids` ragged like `ids`; `positions` and `labels` `(batch,
    max_predictions)`, the selected positions and their original ids, padded with 0 (label
    0 is `[PAD]`, which the masked loss ignores).

    `seed` (a shape-`[2]` integer tensor or pair) makes the choices a function of the seed
    (stateless random ops): the same ids and seed mask the same positions the same way.
    Without it, TF's global random state decides.
    """
    width = max_predictions(seq_len, mask_rate)
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
        max_selections_per_batch=width,
        selection_rate=mask_rate,
        unselectable_ids=special,
        shuffle_fn=shuffle_fn,
    )
    masked, positions, original = tf_text.mask_language_model(ids, selector, chooser)

    def is_special(values):  # ragged in, ragged out
        def flat(v):
            return tf.reduce_any(tf.equal(v[:, None], tf.constant(special, v.dtype)[None]), 1)

        return tf.ragged.map_flat_values(flat, values)

    # A random replacement that lands on a special id (e.g. [PAD]) would read as special:
    # keep the original token there instead, which is one of BERT's three outcomes anyway.
    landed = is_special(masked) & (masked != mask_id) & tf.logical_not(is_special(ids))
    masked = tf.where(landed, ids, masked)
    positions = tf.cast(positions, tf.int32).to_tensor(0, shape=[None, width])
    labels = tf.cast(original, tf.int32).to_tensor(PAD_ID, shape=[None, width])
    return masked, positions, labels


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
    special = sorted({i for i in tokenizer.special_ids.values() if i is not None})

    def to_example(batch, batch_seed=None):
        ids = encode_texts(tokenizer, batch, seq_len)
        masked, positions, labels = mask_tokens(
            ids, tokenizer.vocab_size, seq_len, mask_rate, batch_seed, tokenizer.mask_id, special
        )
        return {"token_ids": masked.to_tensor(PAD_ID), "mask_positions": positions}, labels

    if seed is not None:  # a stateless seed a batch, new on every pass
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds)
    return dataset.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def make_classification_batches(
    examples, tokenizer, seq_len=128, batch_size=32, shuffle=0, seed=None
):
    """`(token_ids, label)` batches from a dataset of `(text, label id)`; shuffled ones hold
    texts of similar lengths (`similar_lengths`)."""
    if shuffle:
        dataset = similar_lengths(examples.shuffle(shuffle, seed=seed), batch_size, seed)
    else:
        dataset = examples.batch(batch_size)

    def to_example(texts, labels):
        return encode_texts(tokenizer, texts, seq_len).to_tensor(PAD_ID), labels

    return dataset.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


POOL = 32  # batches whose texts are sorted by length together


def similar_lengths(examples, batch_size, seed=None, pool=POOL):
    """Batches of shuffled `examples` (strings, or tuples whose first item is the text)
    with texts of similar lengths, as BERT's batches are padded to their longest: each
    run of `pool` batches is sorted by text length, cut into batches, and those batches
    shuffled. The same number of batches as `examples.batch(batch_size)`, each example
    once."""
    count = int(examples.cardinality())

    def by_length(*columns):
        order = tf.argsort(tf.strings.length(columns[0]), stable=True)
        ordered = tuple(tf.gather(column, order) for column in columns)
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


def make_tagging_batches(examples, tokenizer, seq_len=128, batch_size=32, shuffle=0, seed=None):
    """`(token_ids, labels)` batches from a dataset of `(words, tag ids)`: `labels` is
    `tag + 1` at each word's first piece and 0 (ignored) elsewhere."""
    dataset = examples.shuffle(shuffle, seed=seed) if shuffle else examples

    def to_example(words, tags):
        ids, labels = word_labels(tokenizer, words, tags, seq_len)
        return ids.to_tensor(PAD_ID), labels

    batched = dataset.ragged_batch(batch_size)
    return batched.map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
