"""Masked language modelling: text to fixed-length, BERT-masked sequences."""

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text import END_ID, MASK_ID, PAD_ID, RESERVED_TOKENS, START_ID

AUTOTUNE = tf.data.AUTOTUNE


def encode_for_mlm(tokenizer, seq_len):
    """A `map` function: a batch of strings to ragged `[START] ids [END]`, at most `seq_len`."""

    def encode(texts):
        ids = tokenizer.tokenize(texts)[:, : seq_len - 2]
        batch = ids.nrows()
        start = tf.fill([batch, 1], tf.constant(START_ID, ids.dtype))
        end = tf.fill([batch, 1], tf.constant(END_ID, ids.dtype))
        return tf.concat([start, ids, end], axis=1)

    return encode


def mask_tokens(ids, vocab_size, seq_len, mask_rate=0.15, seed=None):
    """BERT masking of ragged `ids` with TF Text's `mask_language_model`.

    Of the non-special tokens, `mask_rate` are selected; of those 80% become `[MASK]`, 10%
    a random token, 10% stay. Returns `(masked_ids, labels, weights)`, each
    `(batch, seq_len)`: `labels` holds the original id and `weights` 1.0 exactly at the
    selected positions, zero elsewhere.
    """
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=seq_len,
        selection_rate=mask_rate,
        unselectable_ids=list(range(len(RESERVED_TOKENS))),
    )
    chooser = tf_text.MaskValuesChooser(
        vocab_size, mask_token=MASK_ID, mask_token_rate=0.8, random_token_rate=0.1
    )
    masked, positions, original = tf_text.mask_language_model(ids, selector, chooser)
    # A random replacement that lands on a reserved id (e.g. [PAD]) would read as special:
    # keep the original token there instead, which is one of BERT's three outcomes anyway.
    reserved = (masked < len(RESERVED_TOKENS)) & (masked != MASK_ID) & (ids >= len(RESERVED_TOKENS))
    masked = tf.where(reserved, ids, masked)
    batch = ids.nrows(out_type=tf.int64)
    rows = tf.repeat(tf.range(batch), positions.row_lengths())
    indices = tf.stack([rows, tf.cast(positions.flat_values, tf.int64)], axis=1)
    shape = tf.stack([batch, tf.constant(seq_len, tf.int64)])
    labels = tf.scatter_nd(indices, tf.cast(original.flat_values, tf.int32), shape)
    weights = tf.scatter_nd(indices, tf.ones_like(original.flat_values, tf.float32), shape)
    masked = masked.to_tensor(default_value=PAD_ID, shape=[None, seq_len])
    return masked, labels, weights


def make_mlm_batches(
    texts: tf.data.Dataset,
    tokenizer,
    seq_len: int = 128,
    batch_size: int = 32,
    mask_rate: float = 0.15,
    shuffle: int = 10000,
    seed: int = None,
) -> tf.data.Dataset:
    """`(masked_ids, labels, weights)` batches from a dataset of strings; new masks every
    epoch (masking runs in `map`)."""
    dataset = texts
    if shuffle:
        dataset = dataset.shuffle(shuffle, seed=seed)
    encode = encode_for_mlm(tokenizer, seq_len)

    def to_example(batch):
        return mask_tokens(encode(batch), tokenizer.vocab_size, seq_len, mask_rate, seed)

    return dataset.batch(batch_size).map(to_example, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)
