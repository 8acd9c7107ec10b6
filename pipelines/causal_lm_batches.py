"""Causal-LM batches: documents to one token stream, cut into shifted windows."""

import numpy as np
import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE


def token_stream(texts, tokenizer, separator=None, batch_size=512):
    """Every text's ids, each followed by `separator` (default the tokenizer's end id), as
    one int32 numpy array."""
    separator = tokenizer.end_id if separator is None else separator
    pieces = []
    for start in range(0, len(texts), batch_size):
        ids = tokenizer.tokenize(tf.constant(texts[start : start + batch_size]))
        sep = tf.fill([ids.nrows(), 1], tf.constant(separator, ids.dtype))
        pieces.append(tf.concat([ids, sep], axis=1).flat_values.numpy())
    return np.concatenate(pieces).astype("int32") if pieces else np.zeros([0], "int32")


def make_windows(
    stream,
    seq_len: int = 128,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = None,
    drop_remainder: bool = True,
) -> tf.data.Dataset:
    """`(x, y)` batches: window `i` is `stream[i*seq_len : i*seq_len + seq_len + 1]`,
    `x` its first `seq_len` tokens and `y` its last `seq_len` (shifted by one). Windows
    overlap by one token, so every next-token transition of the stream is trained."""
    stream = tf.constant(stream, tf.int32)
    count = (int(stream.shape[0]) - 1) // seq_len
    if count < 1:
        raise ValueError(f"the token stream ({stream.shape[0]} tokens) is shorter than one window")
    dataset = tf.data.Dataset.range(count)
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)

    def window(index):
        start = tf.cast(index, tf.int32) * seq_len
        chunk = stream[start : start + seq_len + 1]
        return tf.reshape(chunk[:-1], [seq_len]), tf.reshape(chunk[1:], [seq_len])

    dataset = dataset.map(window, num_parallel_calls=AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(AUTOTUNE)
