import keras
import numpy as np
import pytest

from tests.layer_harness import run_layer_test
from tf_transformer.layers import Decoder, DecoderLayer, Encoder

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 5, 16)).astype("float32")
CONTEXT = RNG.normal(size=(2, 7, 16)).astype("float32")
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
CONTEXT_MASK = np.array([[1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0, 0]], bool)
SOURCE = np.array([[5, 8, 2, 6, 0, 0, 0], [3, 9, 0, 0, 0, 0, 0]], "int32")
TARGET = np.array([[1, 4, 7, 9, 12, 3], [1, 6, 6, 2, 0, 0]], "int32")
STACK = dict(num_layers=2, d_model=16, num_heads=2, dff=32, vocab_size=20, max_length=32)


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def encoder_decoder(normalize_first=False, **options):
    encoder = Encoder(**STACK, normalize_first=normalize_first)
    decoder = Decoder(**STACK, normalize_first=normalize_first, **options)
    return encoder, decoder


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_layer(tmp_path, normalize_first):
    run_layer_test(
        tmp_path,
        DecoderLayer,
        dict(d_model=16, num_heads=2, dff=32, normalize_first=normalize_first),
        {"x": X, "context": CONTEXT, "padding_mask": MASK, "context_padding_mask": CONTEXT_MASK},
        (2, 5, 16),
    )


def test_decoder_only_layer(tmp_path):
    layer = run_layer_test(
        tmp_path,
        DecoderLayer,
        dict(d_model=16, num_heads=2, dff=32, use_cross_attention=False, normalize_first=True),
        {"x": X, "padding_mask": MASK},
        (2, 5, 16),
    )
    assert layer.cross_attention is None


@pytest.mark.parametrize(
    "options",
    [{}, {"normalize_first": True, "position": "learned", "activation": "gelu"}],
)
def test_decoder(tmp_path, options):
    run_layer_test(
        tmp_path,
        Decoder,
        dict(STACK, **options),
        {"token_ids": TARGET, "context": CONTEXT, "context_padding_mask": CONTEXT_MASK},
        (2, 6, 16),
    )


@pytest.mark.parametrize("normalize_first", [False, True])
@pytest.mark.parametrize("t", [0, 2, 4])
def test_changing_later_target_tokens_leaves_earlier_outputs_unchanged(normalize_first, t):
    encoder, decoder = encoder_decoder(normalize_first)
    context = encoder(SOURCE)
    out = numpy(decoder(TARGET, context, context_padding_mask=SOURCE != 0))
    changed = TARGET.copy()
    changed[:, t + 1 :] = RNG.integers(1, 20, size=changed[:, t + 1 :].shape)
    out_changed = numpy(decoder(changed, context, context_padding_mask=SOURCE != 0))
    np.testing.assert_allclose(out_changed[:, : t + 1], out[:, : t + 1], atol=1e-6)
    assert not np.allclose(out_changed[:, t + 1 :], out[:, t + 1 :], atol=1e-3)


@pytest.mark.parametrize("normalize_first", [False, True])
def test_appending_pad_to_target_or_source_leaves_decoder_outputs_unchanged(normalize_first):
    encoder, decoder = encoder_decoder(normalize_first)
    context = encoder(SOURCE)
    out = numpy(decoder(TARGET, context, context_padding_mask=SOURCE != 0))
    real = TARGET != 0

    padded_target = np.pad(TARGET, ((0, 0), (0, 3)))
    out_target = numpy(decoder(padded_target, context, context_padding_mask=SOURCE != 0))
    np.testing.assert_allclose(out_target[:, :6][real], out[real], atol=1e-5)

    padded_source = np.pad(SOURCE, ((0, 0), (0, 5)))
    padded_context = encoder(padded_source)
    out_source = numpy(decoder(TARGET, padded_context, context_padding_mask=padded_source != 0))
    np.testing.assert_allclose(out_source[real], out[real], atol=1e-5)


def test_padded_cache_slots_get_zero_self_attention():
    """A left-padded prompt: slots marked as padding in the cache mask are never attended."""
    decoder = Decoder(**STACK, use_cross_attention=False, normalize_first=True)
    left_padded = np.array([[0, 0, 4, 7, 9, 3]], "int32")
    cache = decoder.init_cache(1, 6)
    out, _ = decoder(
        left_padded[:, 2:], padding_mask=left_padded != 0, cache=cache, cache_update_index=2
    )
    assert out.shape == (1, 4, 16)
    weights = numpy(decoder.last_attention_scores)
    assert weights.shape == (1, 2, 4, 6)
    assert np.all(weights[..., :2] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    "options",
    [{}, {"normalize_first": True}, {"normalize_first": True, "position": "learned"}],
)
def test_cached_decoding_equals_full_pass_at_every_position(options):
    encoder, decoder = encoder_decoder(**options)
    context = encoder(SOURCE)
    full = numpy(decoder(TARGET, context, context_padding_mask=SOURCE != 0))
    cache = decoder.init_cache(batch_size=2, max_length=8)
    cross_cache = decoder.compute_cross_cache(context)
    for t in range(TARGET.shape[1]):
        step, cache = decoder(
            TARGET[:, t : t + 1],
            context_padding_mask=SOURCE != 0,
            cache=cache,
            cross_cache=cross_cache,
            cache_update_index=t,
        )
        assert tuple(cache.shape) == (2, 2, 2, 2, 8, 8)  # batch, layers, k/v, heads, length, dim
        # row 1 has pads from t=4 on; a real decoder never feeds them, so compare real rows
        real = TARGET[:, t] != 0
        np.testing.assert_allclose(numpy(step)[real, 0], full[real, t], atol=1e-5)


def test_cached_decoder_only_stack_equals_full_pass():
    decoder = Decoder(**STACK, use_cross_attention=False, normalize_first=True, position="learned")
    ids = TARGET[:1]
    full = numpy(decoder(ids))
    cache = decoder.init_cache(1, 6)
    prefill, cache = decoder(ids[:, :3], cache=cache, cache_update_index=0)
    np.testing.assert_allclose(numpy(prefill), full[:, :3], atol=1e-5)
    for t in range(3, 6):
        step, cache = decoder(ids[:, t : t + 1], cache=cache, cache_update_index=t)
        np.testing.assert_allclose(numpy(step)[:, 0], full[:, t], atol=1e-5)
