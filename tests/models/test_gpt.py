import keras
import numpy as np
import pytest

from tf_transformer.errors import InputError
from tf_transformer.models import GPT

IDS = np.random.default_rng(0).integers(5, 100, size=(3, 12)).astype("int32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_gpt2_small_has_exactly_124_439_808_parameters():
    model = GPT.from_preset("gpt2_small", vocab_size=50257)
    assert model.num_parameters() == 124_439_808
    assert (model.num_layers, model.d_model, model.num_heads, model.max_length) == (
        12,
        768,
        12,
        1024,
    )
    # GPT-2's training choices are the preset's defaults (the tiny presets keep Keras')
    assert (model.activation, model.initialization) == ("gelu_tanh", "gpt2")
    tiny = GPT.from_preset("gpt_tiny", vocab_size=10)
    assert (tiny.activation, tiny.initialization) == ("gelu", "keras")


def test_flops_per_token_is_6n_plus_the_attention_term():
    model = GPT.from_preset("gpt_tiny", vocab_size=100)
    n = model.num_parameters() - 128 * 64  # without the position table
    assert model.num_parameters(non_embedding=True) == n
    assert model.flops_per_token(32) == 6 * n + 12 * 2 * 64 * 32


def test_output_projection_is_tied_to_the_token_embeddings():
    model = GPT.from_preset("gpt_tiny", vocab_size=100)
    logits = numpy(model(IDS))
    hidden = numpy(model.decoder(IDS))
    table = numpy(model.decoder.embedding.token_embedding.embeddings)
    np.testing.assert_allclose(logits, hidden @ table.T, atol=1e-4)
    names = [w.path for w in model.trainable_weights]
    assert not any(
        "dense" in name and "feed_forward" not in name for name in names if "attention" not in name
    )


@pytest.mark.parametrize("t", [0, 5, 10])
def test_no_causal_leakage(t):
    model = GPT.from_preset("gpt_tiny", vocab_size=100)
    logits = numpy(model(IDS))
    changed = IDS.copy()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 7) % 95 + 5
    changed_logits = numpy(model(changed))
    np.testing.assert_allclose(changed_logits[:, : t + 1], logits[:, : t + 1], atol=1e-6)
    assert not np.allclose(changed_logits[:, t + 1 :], logits[:, t + 1 :], atol=1e-3)


def test_cached_and_uncached_logits_agree_at_every_step():
    model = GPT.from_preset("gpt_tiny", vocab_size=100)
    full = numpy(model(IDS))
    cache = model.init_cache(3, 16)
    logits, cache = model.decode_step(IDS[:, :4], cache, 0, {})
    np.testing.assert_allclose(numpy(logits), full[:, :4], atol=1e-4)
    for t in range(4, 12):
        logits, cache = model.decode_step(IDS[:, t : t + 1], cache, t, {})
        np.testing.assert_allclose(numpy(logits)[:, 0], full[:, t], atol=1e-4)


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_keras_round_trip(tmp_path, activation):
    model = GPT.from_preset("gpt_tiny", vocab_size=100, activation=activation)
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    model.fit(IDS[:, :-1], IDS[:, 1:], epochs=1, verbose=0)
    model.save(tmp_path / "gpt.keras")
    loaded = keras.models.load_model(tmp_path / "gpt.keras")
    np.testing.assert_array_equal(numpy(loaded(IDS)), numpy(model(IDS)))  # eager: no tracing
    assert loaded.get_config()["activation"] == activation


def test_gelu_tanh_is_gpt2s_formula_and_only_the_activation_differs():
    from tf_transformer.layers.feed_forward import gelu_tanh

    x = np.linspace(-6, 6, 101).astype("float32")
    formula = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(numpy(gelu_tanh(x)), formula, atol=1e-6)
    exact, approximate = (
        GPT.from_preset("gpt_tiny", vocab_size=100, activation=a) for a in ("gelu", "gelu_tanh")
    )
    exact.build((None, None))
    approximate.build((None, None))
    approximate.set_weights(exact.get_weights())
    difference = np.abs(numpy(exact(IDS)) - numpy(approximate(IDS))).max()
    assert 0 < difference < 1e-2  # the same weights: the activations alone tell them apart


def test_unknown_preset():
    with pytest.raises(InputError, match="unknown GPT preset 'gpt5'"):
        GPT.from_preset("gpt5", vocab_size=10)


def test_gpt2_initialization_draws_each_weight_at_gpt2s_scale():
    model = GPT(vocab_size=400, num_layers=3, d_model=96, num_heads=3, initialization="gpt2")
    model.build((None, None))
    stds = {}
    for variable in model.weights:
        values = numpy(variable)
        kind = variable.path.rsplit("/", 2)
        if variable.path.endswith("/bias"):
            assert not values.any(), variable.path
        elif variable.path.endswith(("/gamma", "/beta")):
            assert np.all(values == (1.0 if kind[-1] == "gamma" else 0.0)), variable.path
        else:
            stds[variable.path] = (values.std(), abs(values.mean()))
    residual = 0.02 / np.sqrt(2 * 3)
    for path, (std, mean) in stds.items():
        expected = residual if path.endswith(GPT.RESIDUAL_PROJECTIONS) else 0.02
        assert abs(std - expected) < 0.1 * expected and mean < 0.2 * expected, path
    assert sum(path.endswith(GPT.RESIDUAL_PROJECTIONS) for path in stds) == 2 * 3
    assert GPT.from_config(model.get_config()).initialization == "gpt2"
    with pytest.raises(ValueError, match="initialization must be"):
        GPT(vocab_size=10, num_layers=1, d_model=8, num_heads=1, initialization="xavier")
