"""Translation batches: string pairs tokenized in the graph into
`((source_ids, target_in_ids), target_out_ids)`, bucketed by length."""

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def tokenize_pairs(source_tokenizer, target_tokenizer, max_tokens):
    """A `map` function: a batch of (source, target) strings to ragged ids.

    Sources are truncated to `max_tokens`; targets get the target tokenizer's start and
    end ids (`[START]`/`[END]`) and are
    truncated to `max_tokens + 1` so that the shifted input and output are `max_tokens`.
    """

    def tokenize(source, target):
        source_ids = source_tokenizer.tokenize(source)[:, :max_tokens]
        target_ids = target_tokenizer.tokenize(target)[:, : max_tokens - 1]
        batch = target_ids.nrows()
        start = tf.fill([batch, 1], tf.constant(target_tokenizer.start_id, target_ids.dtype))
        end = tf.fill([batch, 1], tf.constant(target_tokenizer.end_id, target_ids.dtype))
        target_ids = tf.concat([start, target_ids, end], axis=1)
        return source_ids, target_ids

    return tokenize


def _shift(source_ids, target_ids):
    return (source_ids, target_ids[:, :-1]), target_ids[:, 1:]


def make_batches(
    pairs: tf.data.Dataset,
    source_tokenizer,
    target_tokenizer,
    batch_size: int = 64,
    max_tokens: int = 64,
    bucket: bool = True,
    batch_tokens: int = None,
    shuffle: int = 20000,
    cache: bool = False,
    seed: int = None,
) -> tf.data.Dataset:
    """Batches for `Transformer.fit` from a dataset of (source, target) strings.

    Tokenizes in `map` (in the graph), truncates to `max_tokens`, then either buckets by
    length (`bucket=True`: batches of similar lengths, each padded to its own longest;
    `batch_size` pairs a batch, or with `batch_tokens` as many pairs as fit in about that
    many tokens) or pads each batch of `batch_size` to its longest, as the tutorial does.
    `shuffle=0` keeps order; `cache` keeps the tokenized pairs in memory after the first
    epoch.
    """
    dataset = pairs
    if shuffle:
        dataset = dataset.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(1024).map(
        tokenize_pairs(source_tokenizer, target_tokenizer, max_tokens), num_parallel_calls=AUTOTUNE
    )
    # unbatched ragged rows come out as rank-0-ragged specs; the identity map makes them dense
    dataset = dataset.unbatch().map(lambda source, target: (source, target))
    if cache:
        dataset = dataset.cache()
    if bucket:
        boundaries = [
            b for b in (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256) if b < max_tokens + 1
        ]
        if batch_tokens:
            lengths = boundaries + [max_tokens + 1]
            sizes = [max(1, batch_tokens // b) for b in lengths]
        else:
            sizes = [batch_size] * (len(boundaries) + 1)
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda s, t: tf.maximum(tf.shape(s)[0], tf.shape(t)[0]),
            bucket_boundaries=[b + 1 for b in boundaries],
            bucket_batch_sizes=sizes,
        )
    else:
        dataset = dataset.padded_batch(batch_size)
    return dataset.map(_shift, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def with_length(batches: tf.data.Dataset) -> tf.data.Dataset:
    """The batches with their count known to Keras (`len()` works).

    Bucketing hides how many batches a pass makes, so Keras would warn that the input "ran
    out of data" when an epoch ends. The count is the same every epoch (a bucket's batches
    depend on how many pairs have its lengths, not on their order), so one pass finds it.
    """
    return batches.apply(tf.data.experimental.assert_cardinality(sum(1 for _ in batches)))


def padding_fraction(batches: tf.data.Dataset) -> float:
    """Share of `[PAD]` among all positions of the batches' source and target inputs."""
    pads = total = 0
    for (source, target_in), _ in batches:
        for ids in (source, target_in):
            pads += int(tf.reduce_sum(tf.cast(ids == 0, tf.int64)))
            total += int(tf.size(ids))
    return pads / max(total, 1)


def count_truncated(pairs: tf.data.Dataset, source_tokenizer, target_tokenizer, max_tokens):
    """How many (source, target) pairs `make_batches` truncates: a source longer than
    `max_tokens` tokens, or a target longer than `max_tokens - 1` (with `[START]`/`[END]`)."""

    def too_long(source, target):
        source_lengths = source_tokenizer.tokenize(source).row_lengths()
        target_lengths = target_tokenizer.tokenize(target).row_lengths()
        over = (source_lengths > max_tokens) | (target_lengths > max_tokens - 1)
        return tf.reduce_sum(tf.cast(over, tf.int64))

    counts = pairs.batch(1024).map(too_long, num_parallel_calls=AUTOTUNE)
    return int(counts.reduce(tf.constant(0, tf.int64), lambda total, n: total + n))
