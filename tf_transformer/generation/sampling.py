"""Choosing the next token from logits: greedy, temperature, top-k and top-p.

TensorFlow ops (stateless random, sorting), since generation runs inside exported graphs.
"""

import tensorflow as tf

NEG_INF = -1e9


def filter_top_k(logits, top_k):
    """Keeps the `top_k` largest logits of each row (`top_k` 0 or >= vocab keeps all)."""
    vocab = tf.shape(logits)[-1]
    k = tf.cast(tf.broadcast_to(top_k, tf.shape(logits)[:1]), tf.int32)
    k = tf.where((k <= 0) | (k > vocab), vocab, k)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    kth = tf.gather(ordered, k - 1, batch_dims=1)
    return tf.where(logits < kth[:, None], NEG_INF, logits)


def filter_top_p(logits, top_p):
    """Keeps each row's nucleus: the fewest most likely tokens whose probability sums to
    at least `top_p` (`top_p` >= 1 keeps all)."""
    p = tf.cast(tf.broadcast_to(top_p, tf.shape(logits)[:1]), logits.dtype)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    before = tf.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
    kept = tf.reduce_sum(tf.cast(before < p[:, None], tf.int32), axis=-1)
    threshold = tf.gather(ordered, tf.maximum(kept, 1) - 1, batch_dims=1)
    keep_all = p >= 1.0
    return tf.where(keep_all[:, None] | (logits >= threshold[:, None]), logits, NEG_INF)


def next_token(logits, step, temperature=0.0, top_k=0, top_p=1.0, seed=0):
    """The next token of each row of `(batch, vocab)` float logits, as int32.

    `temperature` 0 is greedy (arg-max). Otherwise logits are divided by the temperature,
    filtered by `top_k` then `top_p`, and sampled with a stateless generator seeded by
    `(seed, step)`: the same seed gives the same tokens. Each of `temperature`, `top_k`,
    `top_p` may be a scalar or one value per row; rows with temperature 0 stay greedy.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    rows = tf.shape(logits)[:1]
    temperature = tf.broadcast_to(tf.cast(temperature, tf.float32), rows)
    sampled_rows = temperature > 0
    scaled = logits / tf.where(sampled_rows, temperature, 1.0)[:, None]
    filtered = filter_top_p(filter_top_k(scaled, top_k), top_p)
    seeds = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    sampled = tf.random.stateless_categorical(filtered, 1, seed=seeds, dtype=tf.int32)[:, 0]
    return tf.where(sampled_rows, sampled, greedy)
