"""The position-wise feed-forward sublayer."""

import keras

from tf_transformer.layers.residual import ResidualSublayer


@keras.saving.register_keras_serializable(package="tf_transformer")
def gelu_tanh(x):
    """GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the
    one GPT-2 computes (`"gelu"` is the exact erf form)."""
    return keras.activations.gelu(x, approximate=True)


def get_activation(name):
    """A Keras activation by name, or this package's `"gelu_tanh"`."""
    return gelu_tanh if name == "gelu_tanh" else keras.activations.get(name)


@keras.saving.register_keras_serializable(package="tf_transformer")
class FeedForward(ResidualSublayer):
    """Two dense layers (`dff` wide, then `d_model`) with a residual connection and LayerNorm.

    Args:
        d_model: output width (equal to the input width).
        dff: inner width (the paper uses 4 * d_model).
        activation: inner activation, `"relu"` (paper), `"gelu"` (BERT) or `"gelu_tanh"`
            (GPT-2's approximation).
        dropout: rate applied to the output before the residual.
        normalize_first: pre-norm (`True`) or post-norm (`False`).
        layer_norm_epsilon: LayerNorm epsilon.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import FeedForward
    FeedForward(d_model=16, dff=64)(np.ones((2, 3, 16), "float32")).shape  # (2, 3, 16)
    ```
    """

    def __init__(
        self,
        d_model,
        dff,
        activation="relu",
        dropout=0.0,
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(
            dropout=dropout,
            normalize_first=normalize_first,
            layer_norm_epsilon=layer_norm_epsilon,
            **kwargs,
        )
        self.d_model = d_model
        self.dff = dff
        self.activation = get_activation(activation)
        self.inner_dense = keras.layers.Dense(
            dff, activation=self.activation, dtype=self.dtype_policy, name="inner_dense"
        )
        self.output_dense = keras.layers.Dense(
            d_model, dtype=self.dtype_policy, name="output_dense"
        )

    def build(self, x_shape):
        self.inner_dense.build(x_shape)
        self.output_dense.build(tuple(x_shape[:-1]) + (self.dff,))
        self.layer_norm.build(x_shape)
        self.built = True

    def call(self, x, training=None):
        return self.residual(x, lambda h: self.output_dense(self.inner_dense(h)), training)

    def compute_output_shape(self, x_shape):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "d_model": self.d_model,
                "dff": self.dff,
                "activation": keras.activations.serialize(self.activation),
            }
        )
        return config
