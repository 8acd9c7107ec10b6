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
    at least `top_p` (`top_p` >= 1 keeps all).

    A token is kept when the probability mass of the tokens before it is below `top_p`.
    At an exact tie (the first k tokens sum to exactly `top_p`) the nucleus is those k in
    exact arithmetic, but the float32 cumulative sum decides: where it rounds below `top_p`
    the next token joins. Ties of the kept tokens' own logits are all kept.
    """
    p = tf.cast(tf.broadcast_to(top_p, tf.shape(logits)[:1]), logits.dtype)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    before = tf.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
    kept = tf.reduce_sum(tf.cast(before < p[:, None], tf.int32), axis=-1)
    threshold = tf.gather(ordered, tf.maximum(kept, 1) - 1, batch_dims=1)
    keep_all = p >= 1.0
    return tf.where(keep_all[:, None] | (logits >= threshold[:, None]), logits, NEG_INF)


def _mix(x):
    """A 32-bit integer finalizer (murmur3-style): nearby inputs give unrelated outputs."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def hashed_uniform(seeds, step, vocab):
    """Uniform (0, 1) noise `(batch, vocab)`, a pure function of (row seed, step, index).

    A counter-based generator in core integer ops, vectorized over rows: each row's noise
    depends on its own seed only, so a prompt samples the same text in any batch.
    """
    seeds = tf.bitcast(tf.cast(seeds, tf.int32), tf.uint32)
    step = tf.cast(step, tf.uint32)
    index = tf.cast(tf.range(vocab), tf.uint32)
    row = _mix(
        seeds * tf.constant(0x9E3779B1, tf.uint32) + step * tf.constant(0x85EBCA77, tf.uint32)
    )
    bits = _mix(row[:, None] + _mix(index[None, :] + tf.constant(0x27D4EB2F, tf.uint32)))
    mantissa = tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32)
    return (mantissa + 0.5) / float(1 << 24)


def next_token(logits, step, temperature=0.0, top_k=0, top_p=1.0, seed=0):
    """The next token of each row of `(batch, vocab)` float logits, as int32.

    `temperature` 0 is greedy (arg-max). Otherwise logits are divided by the temperature,
    filtered by `top_k` then `top_p`, and sampled (Gumbel-max) with `hashed_uniform` noise
    of `(seed, step)`: the same seed gives the same tokens, and a row's draw depends on
    its own seed only, not on the other rows of the batch. `temperature`, `top_k`, `top_p`
    and `seed` may each be a scalar or one value per row; rows with temperature 0 stay
    greedy.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    rows = tf.shape(logits)[:1]
    temperature = tf.broadcast_to(tf.cast(temperature, tf.float32), rows)
    sampled_rows = temperature > 0

    def sample():
        scaled = logits / tf.where(sampled_rows, temperature, 1.0)[:, None]
        top_k_rows = tf.broadcast_to(tf.cast(top_k, tf.int32), rows)
        top_p_rows = tf.broadcast_to(tf.cast(top_p, tf.float32), rows)
        # each filter sorts the vocabulary: skip it where no row asks for it
        scaled = tf.cond(
            tf.reduce_any(top_k_rows > 0), lambda: filter_top_k(scaled, top_k_rows), lambda: scaled
        )
        scaled = tf.cond(
            tf.reduce_any(top_p_rows < 1.0),
            lambda: filter_top_p(scaled, top_p_rows),
            lambda: scaled,
        )
        seeds = tf.broadcast_to(tf.cast(seed, tf.int32), rows)
        gumbel = -tf.math.log(-tf.math.log(hashed_uniform(seeds, step, tf.shape(logits)[-1])))
        sampled = tf.argmax(scaled + gumbel, axis=-1, output_type=tf.int32)
        return tf.where(sampled_rows, sampled, greedy)

    return tf.cond(tf.reduce_any(sampled_rows), sample, lambda: greedy)
