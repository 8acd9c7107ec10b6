"""Beam search with a finished pool, against fake step functions whose answers are known."""

import itertools

import numpy as np
import tensorflow as tf

from tf_transformer.generation import beam_search
from tf_transformer.text import END_ID, PAD_ID, START_ID

A, B = 4, 5


def gnmt_score(log_prob, length, alpha=0.6):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


def test_a_finished_hypothesis_is_never_pushed_out_by_live_ones():
    """After [START], A and B get 0.45 each and [END] 0.10; later A and B share the mass
    and [END] gets 1e-6. The best hypothesis is [END] at once (-2.30): never-ending A/B
    beams (-2.84 normalised after 6 tokens) must not push it out of the search."""

    def step_fn(ids, cache, index, static):
        first = np.full(8, 1e-9)
        first[[A, B, END_ID]] = [0.45, 0.45, 0.10]
        later = np.full(8, 1e-9)
        later[[A, B, END_ID]] = [0.5, 0.5, 1e-6]
        probs = tf.where(index == 0, first, later)
        logits = tf.math.log(tf.cast(probs, tf.float32))
        return tf.tile(logits[None, None], [tf.shape(ids)[0], 1, 1]), cache

    tokens = beam_search(step_fn, tf.fill([2, 1], START_ID), tf.zeros([2]), tf.zeros([2]), 6, 3)
    np.testing.assert_array_equal(tokens.numpy(), [[END_ID] + [PAD_ID] * 5] * 2)
    assert gnmt_score(np.log(0.10), 1) > gnmt_score(np.log(0.45) + 5 * np.log(0.5), 6)


VOCAB, STEPS = 4, 3  # tokens 0, 1, 2 and [END] = 3


def markov_step(weights, first_token_weights):
    """Logits from (position, previous token), plus a term from the first generated token
    (so the search is not first-order Markov), plus a per-row offset (`static`)."""
    weights = tf.constant(weights, tf.float32)
    first_token_weights = tf.constant(first_token_weights, tf.float32)

    def step_fn(ids, cache, index, static):
        position = index + tf.shape(ids)[1] - 1
        previous = ids[:, -1]
        logits = tf.gather(weights[position], previous) + static
        logits += tf.gather(first_token_weights, cache) * tf.cast(position >= 2, tf.float32)
        cache = tf.where(tf.equal(position, 1), previous, cache)
        return tf.nn.log_softmax(logits)[:, None, :], cache

    return step_fn


def brute_force(weights, first_token_weights, offset, alpha=0.6):
    """The best finished sequence by GNMT score, over every sequence of <= STEPS tokens."""

    def log_softmax(x):
        x = x - x.max()
        return x - np.log(np.exp(x).sum())

    best, best_score = None, -np.inf
    for length in range(1, STEPS + 1):
        for body in itertools.product([t for t in range(VOCAB) if t != END_ID], repeat=length - 1):
            sequence = [*body, END_ID]
            previous, log_prob = START_ID, 0.0
            for position, token in enumerate(sequence):
                logits = weights[position, previous] + offset
                if position >= 2:
                    logits = logits + first_token_weights[sequence[0]]
                log_prob += log_softmax(logits)[token]
                previous = token
            score = gnmt_score(log_prob, length, alpha)
            if score > best_score:
                best, best_score = sequence, score
    return best + [PAD_ID] * (STEPS - len(best))


def test_exhaustive_beam_equals_brute_force_with_rows_finishing_apart():
    """With a beam as wide as the number of live prefixes (3 ** (STEPS - 1)), beam search is
    exhaustive: each row's answer is the best of all sequences, whatever its length."""
    rng = np.random.default_rng(0)
    lengths = set()
    for _ in range(5):
        weights = rng.normal(size=(STEPS + 1, VOCAB, VOCAB)) * 2
        first = rng.normal(size=(VOCAB, VOCAB)) * 2
        offsets = rng.normal(size=(4, VOCAB)) * 2
        step_fn = markov_step(weights, first)
        tokens = beam_search(
            step_fn,
            tf.fill([4, 1], START_ID),
            tf.zeros([4], tf.int32),
            tf.constant(offsets, tf.float32),
            STEPS,
            beam_size=(VOCAB - 1) ** (STEPS - 1),
        ).numpy()
        for row in range(4):
            expected = brute_force(weights, first, offsets[row])
            assert tokens[row].tolist() == expected
            lengths.add(expected.index(END_ID) + 1)
    assert lengths == {1, 2, 3}  # rows of one batch finished at different steps


def test_rows_finish_at_their_own_steps_and_pad_after():
    """Each row is sure of [END] at its own step; before it, a sure token 7."""
    stops = tf.constant([2, 5, 0])

    def step_fn(ids, cache, index, static):
        position = index + tf.shape(ids)[1] - 1
        token = tf.where(position >= static, END_ID, 7)
        return tf.nn.log_softmax(tf.one_hot(token, 10) * 20.0)[:, None, :], cache

    tokens = beam_search(step_fn, tf.fill([3, 1], START_ID), tf.zeros([3]), stops, 8, 3).numpy()
    np.testing.assert_array_equal(tokens[0], [7, 7, END_ID] + [PAD_ID] * 5)
    np.testing.assert_array_equal(tokens[1], [7] * 5 + [END_ID] + [PAD_ID] * 2)
    np.testing.assert_array_equal(tokens[2], [END_ID] + [PAD_ID] * 7)


def test_without_a_finished_hypothesis_the_best_live_beam_is_returned():
    def step_fn(ids, cache, index, static):
        # [END] (and every other token) is impossible: no hypothesis ever finishes
        logits = tf.constant([-1e9] * 4 + [np.log(0.7), np.log(0.3)], tf.float32)
        return tf.tile(logits[None, None], [tf.shape(ids)[0], 1, 1]), cache

    tokens = beam_search(step_fn, tf.fill([1, 1], START_ID), tf.zeros([1]), tf.zeros([1]), 4, 2)
    np.testing.assert_array_equal(tokens.numpy(), [[A] * 4])
