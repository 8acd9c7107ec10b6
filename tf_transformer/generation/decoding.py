"""In-graph, batched decoding loops over a cached step function.

A step function is `step_fn(ids, cache, index, static) -> (logits, cache)`: the logits
`(batch, len(ids), vocab)` of `ids` placed at positions `index..`, and the cache with
their keys/values written. `static` holds what does not change while decoding (the
encoder's keys/values, the source mask). `Transformer.decode_step` is one; the GPT's is
another. Loops are `tf.while_loop`s, so the same code runs eagerly, in `tf.function` and in
an exported SavedModel, and each row stops at `[END]` (later tokens are `[PAD]`).
"""

import tensorflow as tf

from tf_transformer.generation.sampling import next_token
from tf_transformer.text.tokenizer import END_ID, PAD_ID

NEG_INF = -1e9


def _any_batch(tensor):
    """The loop-invariant shape of a cache tensor: anything may vary but the batch size."""
    return tf.TensorShape([None]).concatenate(tensor.shape[1:])


def _write(buffer, index, values):
    """`buffer[..., index] = values`, with core ops only (no XLA's dynamic update slice)."""
    at = tf.equal(tf.range(tf.shape(buffer)[-1]), index)
    return tf.where(at, tf.expand_dims(values, -1), buffer)


def generate(
    step_fn,
    prompt_ids,
    cache,
    static,
    max_new_tokens,
    temperature=0.0,
    top_k=0,
    top_p=1.0,
    seed=0,
    end_id=END_ID,
    row_limits=None,
):
    """Greedy (`temperature` 0) or sampled continuation of `prompt_ids` `(batch, length)`.

    Returns `(batch, max_new_tokens)` int32 tokens: each row up to and including its
    `[END]` (or its own limit in `row_limits`, `(batch,)`), then `[PAD]`. The prompt runs
    through `step_fn` once; then one token a step. Sampling options: see `next_token`.
    """
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    batch = tf.shape(prompt_ids)[0]
    prompt_length = tf.shape(prompt_ids)[1]
    logits, cache = step_fn(prompt_ids, cache, 0, static)
    tokens = tf.fill([batch, max_new_tokens], PAD_ID)
    limits = tf.fill([batch], max_new_tokens) if row_limits is None else row_limits
    limits = tf.cast(limits, tf.int32)
    done = limits <= 0

    def more(i, logits, cache, done, tokens):
        return (i < max_new_tokens) & ~tf.reduce_all(done)

    def step(i, logits, cache, done, tokens):
        token = next_token(logits[:, -1], i, temperature, top_k, top_p, seed)
        token = tf.where(done, PAD_ID, token)
        tokens = _write(tokens, i, token)
        done = done | tf.equal(token, end_id) | (i + 1 >= limits)
        logits, cache = step_fn(token[:, None], cache, prompt_length + i, static)
        return i + 1, logits, cache, done, tokens

    loop_vars = (tf.constant(0), logits, cache, done, tokens)
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None, None, None]),
        tf.nest.map_structure(_any_batch, cache),
        tf.TensorShape([None]),
        tf.TensorShape([None, None]),
    )
    *_, tokens = tf.while_loop(more, step, loop_vars, shape_invariants=invariants)
    return tokens


def beam_search(
    step_fn,
    prompt_ids,
    cache,
    static,
    max_new_tokens,
    beam_size=4,
    length_penalty=0.6,
    end_id=END_ID,
):
    """Beam search: the `beam_size` best continuations are kept at every step; the one with
    the best score / ((5 + length) / 6) ** length_penalty (GNMT) is returned per row.

    Returns `(batch, max_new_tokens)` int32 tokens like `generate`. Beam 1 is greedy.
    """
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    batch = tf.shape(prompt_ids)[0]
    prompt_length = tf.shape(prompt_ids)[1]
    k = beam_size

    def tile(t):
        return tf.repeat(t, k, axis=0)

    cache = tf.nest.map_structure(tile, cache)
    static = tf.nest.map_structure(tile, static)
    logits, cache = step_fn(tile(prompt_ids), cache, 0, static)
    vocab = tf.shape(logits)[-1]
    # only the first beam is live at the start, so the first step does not pick k copies
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None], [batch, 1])
    tokens = tf.fill([batch, k, max_new_tokens], PAD_ID)
    lengths = tf.zeros([batch, k], tf.int32)
    done = tf.zeros([batch, k], tf.bool)
    # a finished beam can only continue with [PAD], at no cost
    pad_only = tf.where(tf.equal(tf.range(vocab), PAD_ID), 0.0, NEG_INF)

    def more(i, logits, cache, scores, tokens, lengths, done):
        return (i < max_new_tokens) & ~tf.reduce_all(done)

    def step(i, logits, cache, scores, tokens, lengths, done):
        log_probs = tf.nn.log_softmax(tf.cast(logits[:, -1], tf.float32))
        log_probs = tf.reshape(log_probs, [batch, k, vocab])
        log_probs = tf.where(done[..., None], pad_only, log_probs)
        candidates = tf.reshape(scores[..., None] + log_probs, [batch, k * vocab])
        scores, chosen = tf.math.top_k(candidates, k)
        beam, token = chosen // vocab, chosen % vocab
        tokens = _write(tf.gather(tokens, beam, batch_dims=1), i, token)
        was_done = tf.gather(done, beam, batch_dims=1)
        lengths = tf.gather(lengths, beam, batch_dims=1) + tf.cast(~was_done, tf.int32)
        done = was_done | tf.equal(token, end_id)
        rows = tf.reshape(beam + tf.range(batch)[:, None] * k, [-1])
        cache = tf.nest.map_structure(lambda t: tf.gather(t, rows), cache)
        logits, cache = step_fn(tf.reshape(token, [-1, 1]), cache, prompt_length + i, static)
        return i + 1, logits, cache, scores, tokens, lengths, done

    loop_vars = (tf.constant(0), logits, cache, scores, tokens, lengths, done)
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None, None, None]),
        tf.nest.map_structure(_any_batch, cache),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None, None]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None]),
    )
    _, _, _, scores, tokens, lengths, _ = tf.while_loop(
        more, step, loop_vars, shape_invariants=invariants
    )
    penalty = ((5.0 + tf.cast(lengths, tf.float32)) / 6.0) ** length_penalty
    best = tf.argmax(scores / penalty, axis=-1, output_type=tf.int32)
    return tf.gather(tokens, best, batch_dims=1)


def generate_without_cache(logits_fn, prompt_ids, max_new_tokens, end_id=END_ID):
    """Greedy decoding the tutorial's way: `logits_fn(ids)` reruns the whole decoder over
    the whole prefix for every new token. For comparison (tests, benchmarks) only."""
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    batch = tf.shape(prompt_ids)[0]
    prompt_length = tf.shape(prompt_ids)[1]
    ids = tf.concat([prompt_ids, tf.fill([batch, max_new_tokens], PAD_ID)], axis=1)
    done = tf.zeros([batch], tf.bool)

    def more(i, ids, done):
        return (i < max_new_tokens) & ~tf.reduce_all(done)

    def step(i, ids, done):
        logits = logits_fn(ids[:, : prompt_length + i])
        token = tf.argmax(logits[:, -1], axis=-1, output_type=tf.int32)
        token = tf.where(done, PAD_ID, token)
        ids = _write(ids, prompt_length + i, token)
        return i + 1, ids, done | tf.equal(token, end_id)

    _, ids, _ = tf.while_loop(more, step, (tf.constant(0), ids, done))
    return ids[:, prompt_length:]
