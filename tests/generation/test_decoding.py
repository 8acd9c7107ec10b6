import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.generation import (
    beam_search,
    filter_top_k,
    filter_top_p,
    generate,
    generate_without_cache,
    next_token,
)
from tf_transformer.models import Transformer
from tf_transformer.text import END_ID, PAD_ID, START_ID

SOURCE = tf.constant(np.random.default_rng(1).integers(1, 40, size=(5, 9)), tf.int32)
SOURCE = SOURCE * tf.constant([[1] * 9, [1] * 6 + [0] * 3, [1] * 9, [1] * 2 + [0] * 7, [1] * 9])


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(7)
    model = Transformer(2, 32, 4, 64, 40, 30, max_length=24, dropout=0.0)
    model((SOURCE, SOURCE[:, :3] % 30))
    return model


def decode(model, fn, steps=20, **options):
    cache, static = model.start_decoding(SOURCE, 24)
    prompt = tf.fill([SOURCE.shape[0], 1], START_ID)
    return fn(model.decode_step, prompt, cache, static, steps, **options).numpy()


def sequence_log_prob(model, tokens):
    """Sum of log p(token) of each row up to and including [END], by teacher forcing."""
    inputs = np.concatenate([np.full((len(tokens), 1), START_ID), tokens[:, :-1]], 1)
    logits = model((SOURCE, tf.constant(inputs, tf.int32))).numpy()
    log_probs = tf.nn.log_softmax(logits).numpy()
    totals = []
    for row, seq in enumerate(tokens):
        length = list(seq).index(END_ID) + 1 if END_ID in seq else len(seq)
        totals.append(sum(log_probs[row, t, seq[t]] for t in range(length)))
    return np.array(totals)


def test_cached_greedy_equals_rerunning_the_decoder(model):
    cached = decode(model, generate)
    rerun = generate_without_cache(
        lambda ids: model((SOURCE, ids)), tf.fill([5, 1], START_ID), 20
    ).numpy()
    np.testing.assert_array_equal(cached, rerun)
    assert len(set(map(tuple, cached))) > 1  # rows differ: the source matters


def test_same_tokens_in_tf_function(model):
    eager = decode(model, generate)
    compiled = tf.function(lambda: decode_graph(model))()
    np.testing.assert_array_equal(compiled.numpy(), eager)


def decode_graph(model):
    cache, static = model.start_decoding(SOURCE, 24)
    return generate(model.decode_step, tf.fill([5, 1], START_ID), cache, static, 20)


def test_beam_search_finds_sequences_at_least_as_likely_as_greedy(model):
    greedy = decode(model, generate)
    beam = decode(model, beam_search, beam_size=4, length_penalty=0.0)
    assert np.all(sequence_log_prob(model, beam) >= sequence_log_prob(model, greedy) - 1e-4)


def test_rows_stop_at_end_and_pad_after():
    """A step function whose every row wants [END] at a row-specific step."""
    static = {"stops": tf.constant([2, 5, 0])}

    def step_fn(ids, cache, index, static):
        position = index + tf.shape(ids)[1] - 1
        token = tf.where(position >= static["stops"], END_ID, 7)
        return tf.one_hot(token, 10)[:, None, :] * 10.0, cache

    tokens = generate(step_fn, tf.fill([3, 1], START_ID), tf.zeros([3]), static, 8).numpy()
    np.testing.assert_array_equal(tokens[0], [7, 7, END_ID] + [PAD_ID] * 5)
    np.testing.assert_array_equal(tokens[1], [7] * 5 + [END_ID] + [PAD_ID] * 2)
    np.testing.assert_array_equal(tokens[2], [END_ID] + [PAD_ID] * 7)
    beams = beam_search(step_fn, tf.fill([3, 1], START_ID), tf.zeros([3]), static, 8, beam_size=3)
    np.testing.assert_array_equal(beams.numpy(), tokens)


def test_sampling_with_a_seed_is_reproducible_and_top_k_one_is_greedy(model):
    first = decode(model, generate, temperature=1.0, seed=11)
    again = decode(model, generate, temperature=1.0, seed=11)
    other = decode(model, generate, temperature=1.0, seed=12)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    top1 = decode(model, generate, temperature=1.5, top_k=1, seed=3)
    np.testing.assert_array_equal(top1, decode(model, generate))


LOGITS = tf.math.log(tf.constant([[0.05, 0.4, 0.02, 0.3, 0.2, 0.03]] * 10000))
SEEDS = tf.range(10000)  # one seed a row: 10,000 independent draws


def test_top_k_never_samples_outside_the_k_best():
    draws = next_token(LOGITS, step=0, temperature=1.0, top_k=3, seed=SEEDS).numpy()
    assert set(draws) == {1, 3, 4}
    counts = np.bincount(draws, minlength=6) / len(draws)
    np.testing.assert_allclose(counts[[1, 3, 4]], np.array([0.4, 0.3, 0.2]) / 0.9, atol=0.02)


@pytest.mark.parametrize(
    "top_p, nucleus",
    # every p is at least 0.05 away from a cumulative sum (0.4, 0.7, 0.9, 0.95, 0.98), so
    # no float rounding on any CPU moves a token across the boundary
    [(0.3, {1}), (0.6, {1, 3}), (0.8, {1, 3, 4}), (0.93, {1, 3, 4, 0})],
)
def test_top_p_never_samples_outside_the_nucleus(top_p, nucleus):
    draws = next_token(LOGITS, step=0, temperature=1.0, top_p=top_p, seed=SEEDS).numpy()
    assert set(draws) == nucleus


def test_filters_per_row():
    logits = tf.math.log(tf.constant([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    kept = filter_top_k(logits, tf.constant([1, 0])).numpy() > -1e8
    np.testing.assert_array_equal(kept, [[True, False, False], [True, True, True]])
    kept = filter_top_p(logits, tf.constant([0.6, 1.0])).numpy() > -1e8
    np.testing.assert_array_equal(kept, [[True, True, False], [True, True, True]])
