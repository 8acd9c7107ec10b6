"""One check for every layer, the same way (after KerasHub's `run_layer_test`)."""

import keras
import numpy as np


def _symbolic_inputs(inputs):
    return {
        name: keras.Input(shape=value.shape[1:], dtype=str(value.dtype), name=name)
        for name, value in inputs.items()
    }


def _call(layer, inputs, call_kwargs):
    first, *rest = inputs
    return layer(inputs[first], **{name: inputs[name] for name in rest}, **call_kwargs)


def run_layer_test(
    tmp_path, layer_cls, init_kwargs, inputs, expected_output_shape, call_kwargs=None
):
    """Checks `layer_cls(**init_kwargs)` called as `layer(first_input, **other_inputs)`.

    - config round-trip: `from_config(get_config())` has the same config;
    - eager call: output shape, finite values;
    - symbolic call on `keras.Input`s inside a functional model: output shape;
    - one `fit` step changes every trainable weight and gives a finite loss;
    - `.keras` save and load: identical outputs;
    - `mixed_bfloat16`: bfloat16 outputs, float32 variables, finite values.

    `inputs` is an ordered dict of numpy arrays; the first is passed positionally.
    """
    call_kwargs = call_kwargs or {}

    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config

    eager = keras.ops.convert_to_numpy(_call(layer, inputs, call_kwargs))
    assert eager.shape == expected_output_shape
    assert np.all(np.isfinite(eager))

    symbolic = _symbolic_inputs(inputs)
    model_layer = layer_cls(**init_kwargs)
    output = _call(model_layer, symbolic, call_kwargs)
    assert tuple(output.shape[1:]) == expected_output_shape[1:]
    model = keras.Model(symbolic, output)

    trainable = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert trainable, "layer has no trainable weights"
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    target = np.random.default_rng(0).normal(size=expected_output_shape).astype("float32")
    history = model.fit(inputs, target, batch_size=len(target), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [
        not np.allclose(keras.ops.convert_to_numpy(w), old)
        for w, old in zip(model.trainable_weights, trainable, strict=True)
    ]
    # Softmax is invariant to a constant shift of the scores, so the key projection's bias
    # gets no gradient; every other weight must move.
    unchanged = [
        w.path
        for w, c in zip(model.trainable_weights, changed, strict=True)
        if not c and not w.path.endswith("key/bias")
    ]
    assert not unchanged, unchanged

    expected = model.predict(inputs, verbose=0)
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(reloaded.predict(inputs, verbose=0), expected)

    mixed = layer_cls(**init_kwargs, dtype="mixed_bfloat16")
    mixed_output = _call(mixed, inputs, call_kwargs)
    assert keras.backend.standardize_dtype(mixed_output.dtype) == "bfloat16"
    assert all(v.dtype == "float32" for v in mixed.weights)
    mixed_output = keras.ops.convert_to_numpy(keras.ops.cast(mixed_output, "float32"))
    assert np.all(np.isfinite(mixed_output))
    return layer
