import keras
import numpy as np
import pytest

from tests.layer_harness import run_layer_test
from tf_transformer.layers import CausalSelfAttention, CrossAttention, GlobalSelfAttention

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, 16)).astype("float32")
CONTEXT = RNG.normal(size=(2, 7, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
CONTEXT_MASK = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]], bool)
OPTIONS = dict(num_heads=2, key_dim=8, dropout=0.1)


def scores(layer):
    return keras.ops.convert_to_numpy(layer.last_attention_scores)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_global_self_attention_layer(tmp_path, normalize_first):
    run_layer_test(
        tmp_path,
        GlobalSelfAttention,
        dict(OPTIONS, normalize_first=normalize_first),
        {"x": X, "padding_mask": MASK},
        (2, 5, 16),
    )


@pytest.mark.parametrize("normalize_first", [False, True])
def test_causal_self_attention_layer(tmp_path, normalize_first):
    run_layer_test(
        tmp_path,
        CausalSelfAttention,
        dict(OPTIONS, normalize_first=normalize_first),
        {"x": X, "padding_mask": MASK},
        (2, 5, 16),
    )


@pytest.mark.parametrize("normalize_first", [False, True])
def test_cross_attention_layer(tmp_path, normalize_first):
    run_layer_test(
        tmp_path,
        CrossAttention,
        dict(OPTIONS, normalize_first=normalize_first),
        {"x": X, "context": CONTEXT, "context_padding_mask": CONTEXT_MASK},
        (2, 5, 16),
    )


def test_attention_weights_on_padded_keys_are_exactly_zero():
    layer = GlobalSelfAttention(**OPTIONS)
    layer(X, padding_mask=MASK)
    weights = scores(layer)
    assert weights.shape == (2, 2, 5, 5)
    assert np.all(weights[0, :, :, 3:] == 0.0)
    assert np.all(weights[0, :, :, :3] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)

    cross = CrossAttention(**OPTIONS)
    cross(X, context=CONTEXT, context_padding_mask=CONTEXT_MASK)
    weights = scores(cross)
    assert weights.shape == (2, 2, 5, 7)
    assert np.all(weights[0, :, :, 4:] == 0.0) and np.all(weights[1, :, :, 2:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)

    causal = CausalSelfAttention(**OPTIONS)
    causal(X, padding_mask=MASK)
    weights = scores(causal)
    assert np.all(weights[0, :, :, 3:] == 0.0)
    upper = np.triu(np.ones((5, 5), bool), k=1)
    assert np.all(weights[:, :, upper] == 0.0)


def test_softmax_runs_in_float32_under_mixed_precision():
    layer = GlobalSelfAttention(**OPTIONS, dtype="mixed_bfloat16")
    out = layer(X, padding_mask=MASK)
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(layer.last_attention_scores.dtype) == "float32"
    assert np.all(scores(layer)[0, :, :, 3:] == 0.0)
    # the float32 probabilities still sum to one to float32 precision
    np.testing.assert_allclose(scores(layer).sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_cached_causal_self_attention_equals_full_pass(normalize_first):
    layer = CausalSelfAttention(num_heads=2, key_dim=8, normalize_first=normalize_first)
    full = keras.ops.convert_to_numpy(layer(X))
    cache = np.zeros((2, 2, 2, 9, 8), "float32")  # longer than the sequence
    for t in range(5):
        step, cache = layer(X[:, t : t + 1], cache=cache, cache_update_index=t)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(step)[:, 0], full[:, t], atol=1e-5)
    # a chunk of several tokens at once (prompt prefill), then one more step
    cache = np.zeros((2, 2, 2, 9, 8), "float32")
    chunk, cache = layer(X[:, :3], cache=cache, cache_update_index=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(chunk), full[:, :3], atol=1e-5)
    step, _ = layer(X[:, 3:4], cache=cache, cache_update_index=3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(step)[:, 0], full[:, 3], atol=1e-5)


def test_cross_attention_with_precomputed_keys_and_values_equals_direct():
    layer = CrossAttention(**OPTIONS)
    direct = layer(X, context=CONTEXT, context_padding_mask=CONTEXT_MASK)
    cache = layer.compute_cache(CONTEXT)
    assert tuple(cache.shape) == (2, 2, 2, 7, 8)
    cached = layer(X, context_padding_mask=CONTEXT_MASK, cache=cache)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(cached), keras.ops.convert_to_numpy(direct), atol=1e-6
    )


def test_cross_attention_without_context_or_cache_is_refused():
    layer = CrossAttention(**OPTIONS)
    layer(X, context=CONTEXT)
    with pytest.raises(ValueError, match="needs `context`"):
        layer(X)
