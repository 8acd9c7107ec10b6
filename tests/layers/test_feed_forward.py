import keras
import numpy as np
import pytest

from tests.layer_harness import run_layer_test
from tf_transformer.layers import FeedForward

X = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")


@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_feed_forward_layer(tmp_path, normalize_first, activation):
    run_layer_test(
        tmp_path,
        FeedForward,
        dict(
            d_model=16, dff=32, activation=activation, dropout=0.1, normalize_first=normalize_first
        ),
        {"x": X},
        (2, 5, 16),
    )


def test_post_norm_is_layer_norm_of_x_plus_ffn_of_x():
    layer = FeedForward(d_model=16, dff=32)
    out = keras.ops.convert_to_numpy(layer(X))
    w1, b1 = (keras.ops.convert_to_numpy(v) for v in layer.inner_dense.weights)
    w2, b2 = (keras.ops.convert_to_numpy(v) for v in layer.output_dense.weights)
    y = X + np.maximum(X @ w1 + b1, 0) @ w2 + b2
    mean, var = y.mean(-1, keepdims=True), y.var(-1, keepdims=True)
    np.testing.assert_allclose(out, (y - mean) / np.sqrt(var + 1e-6), atol=1e-5)


def test_pre_norm_is_x_plus_ffn_of_layer_norm_of_x():
    layer = FeedForward(d_model=16, dff=32, normalize_first=True)
    out = keras.ops.convert_to_numpy(layer(X))
    w1, b1 = (keras.ops.convert_to_numpy(v) for v in layer.inner_dense.weights)
    w2, b2 = (keras.ops.convert_to_numpy(v) for v in layer.output_dense.weights)
    normed = (X - X.mean(-1, keepdims=True)) / np.sqrt(X.var(-1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(out, X + np.maximum(normed @ w1 + b1, 0) @ w2 + b2, atol=1e-5)
