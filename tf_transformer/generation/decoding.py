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
    pad_id=PAD_ID,
):
    """Greedy (`temperature` 0) or sampled continuation of `prompt_ids` `(batch, length)`.

    Returns `(batch, max_new_tokens)` int32 tokens: each row up to and including its
    `end_id` (or its own limit in `row_limits`, `(batch,)`), then `pad_id`. The prompt runs
    through `step_fn` once; then one token a step. Sampling options: see `next_token`.
    """
    prompt_ids = tf.cast(prompt_ids, tf.int32)
    batch = tf.shape(prompt_ids)[0]
    prompt_length = tf.shape(prompt_ids)[1]
    logits, cache = step_fn(prompt_ids, cache, 0, static)
    tokens = tf.fill([batch, max_new_tokens], pad_id)
    limits = tf.fill([batch], max_new_tokens) if row_limits is None else row_limits
    limits = tf.cast(limits, tf.int32)
    done = limits <= 0

    def more(i, logits, cache, done, tokens):
        return (i < max_new_tokens) & ~tf.reduce_all(done)

    def step(i, logits, cache, done, tokens):
        token = next_token(logits[:, -1], i, temperature, top_k, top_p, seed)
        token = tf.where(done, pad_id, token)
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
    """Beam search with a pool of finished hypotheses (as TF Model Garden's
    `SequenceBeamSearch` and tensor2tensor): `beam_size` live beams and, apart, the
    `beam_size` best finished ones, scored log p / ((5 + length) / 6) ** length_penalty
    (GNMT; the length counts `[END]`).

    Every step takes the 2K best continuations of the K live beams: those that end in
    `[END]` go to the finished pool, the K best of the others stay live, so the search
    never narrows below K live beams and a finished hypothesis is never pushed out by
    unfinished ones. It stops when no live beam can still beat the best finished one (its
    log p divided by the largest penalty, that of `max_new_tokens`; with a
    `length_penalty` >= 0) or after `max_new_tokens`. Each row returns its best finished
    hypothesis, or its best live beam when none finished.

    Returns `(batch, max_new_tokens)` int32 tokens like `generate`.
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
    candidates = tf.minimum(2 * k, k * vocab)
    # only the first beam is live at the start, so the first step does not pick k copies
    alive_scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], NEG_INF)], 0)[None], [batch, 1])
    alive = tf.fill([batch, k, max_new_tokens], PAD_ID)
    finished = tf.fill([batch, k, max_new_tokens], PAD_ID)
    finished_scores = tf.fill([batch, k], NEG_INF)
    max_penalty = ((5.0 + tf.cast(max_new_tokens, tf.float32)) / 6.0) ** length_penalty

    def more(i, logits, cache, alive, alive_scores, finished, finished_scores):
        best_live = alive_scores[:, 0] / max_penalty  # log p only falls as beams grow
        can_improve = tf.reduce_any(best_live > tf.reduce_max(finished_scores, axis=1))
        return (i < max_new_tokens) & can_improve

    def step(i, logits, cache, alive, alive_scores, finished, finished_scores):
        log_probs = tf.nn.log_softmax(tf.cast(logits[:, -1], tf.float32))
        flat = tf.reshape(
            alive_scores[..., None] + tf.reshape(log_probs, [batch, k, vocab]), [batch, -1]
        )
        scores, chosen = tf.math.top_k(flat, candidates)
        beam, token = chosen // vocab, chosen % vocab
        sequences = _write(tf.gather(alive, beam, batch_dims=1), i, token)
        ends = tf.equal(token, end_id)
        real = scores > NEG_INF / 2  # not a continuation of a beam that was never live
        # finished pool: the K best of the old pool and this step's [END] candidates
        penalty = ((5.0 + tf.cast(i + 1, tf.float32)) / 6.0) ** length_penalty
        new_finished = tf.where(ends & real, scores / penalty, NEG_INF)
        pool_scores = tf.concat([finished_scores, new_finished], axis=1)
        finished_scores, kept = tf.math.top_k(pool_scores, k)
        finished = tf.gather(tf.concat([finished, sequences], axis=1), kept, batch_dims=1)
        # live beams: the K best candidates that did not end
        alive_scores, kept = tf.math.top_k(tf.where(ends, NEG_INF * 2, scores), k)
        alive = tf.gather(sequences, kept, batch_dims=1)
        alive_tokens = tf.gather(token, kept, batch_dims=1)
        rows = tf.reshape(tf.gather(beam, kept, batch_dims=1) + tf.range(batch)[:, None] * k, [-1])
        cache = tf.nest.map_structure(lambda t: tf.gather(t, rows), cache)
        logits, cache = step_fn(tf.reshape(alive_tokens, [-1, 1]), cache, prompt_length + i, static)
        return i + 1, logits, cache, alive, alive_scores, finished, finished_scores

    loop_vars = (tf.constant(0), logits, cache, alive, alive_scores, finished, finished_scores)
    invariants = (
        tf.TensorShape([]),
        tf.TensorShape([None, None, None]),
        tf.nest.map_structure(_any_batch, cache),
        tf.TensorShape([None, None, None]),
        tf.TensorShape([None, None]),
        tf.TensorShape([None, None, None]),
        tf.TensorShape([None, None]),
    )
    *_, alive, _, finished, finished_scores = tf.while_loop(
        more, step, loop_vars, shape_invariants=invariants
    )
    # the pool is sorted, so index 0 is the best finished; live beams are sorted too
    has_finished = finished_scores[:, 0] > NEG_INF / 2
    return tf.where(has_finished[:, None], finished[:, 0], alive[:, 0])


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
