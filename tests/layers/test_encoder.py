import keras
import numpy as np
import pytest

from tests.layer_harness import run_layer_test
from tf_transformer.layers import Encoder, EncoderLayer

X = np.random.default_rng(0).normal(size=(2, 5, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
IDS = np.array([[5, 8, 2, 0, 0], [3, 3, 9, 11, 4]], "int32")
STACK = dict(num_layers=2, d_model=16, num_heads=2, dff=32, vocab_size=20, max_length=32)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_layer(tmp_path, normalize_first):
    run_layer_test(
        tmp_path,
        EncoderLayer,
        dict(d_model=16, num_heads=2, dff=32, normalize_first=normalize_first),
        {"x": X, "padding_mask": MASK},
        (2, 5, 16),
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"normalize_first": True, "position": "learned", "activation": "gelu"}],
)
def test_encoder(tmp_path, options):
    run_layer_test(tmp_path, Encoder, dict(STACK, **options), {"token_ids": IDS}, (2, 5, 16))


@pytest.mark.parametrize("normalize_first", [False, True])
def test_appending_pad_tokens_leaves_encoder_outputs_unchanged(normalize_first):
    encoder = Encoder(**STACK, normalize_first=normalize_first)
    out = keras.ops.convert_to_numpy(encoder(IDS))
    padded = np.pad(IDS, ((0, 0), (0, 4)))
    out_padded = keras.ops.convert_to_numpy(encoder(padded))
    np.testing.assert_allclose(out_padded[0, :3], out[0, :3], atol=1e-5)
    np.testing.assert_allclose(out_padded[1, :5], out[1], atol=1e-5)


def test_padding_mask_defaults_to_nonzero_ids():
    encoder = Encoder(**STACK)
    derived = keras.ops.convert_to_numpy(encoder(IDS))
    explicit = keras.ops.convert_to_numpy(encoder(IDS, padding_mask=IDS != 0))
    np.testing.assert_array_equal(derived, explicit)
    # a mask that lets the pads through changes the real positions' outputs
    everything = keras.ops.convert_to_numpy(encoder(IDS, padding_mask=np.ones_like(IDS, bool)))
    assert not np.allclose(everything[0, :3], derived[0, :3], atol=1e-4)


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="divisible"):
        Encoder(num_layers=1, d_model=10, num_heads=3, dff=8, vocab_size=5)
