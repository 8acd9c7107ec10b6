"""The residual sublayer wrapper every Transformer block repeats, written once."""

import keras

from tf_transformer.layers.capture import capturing, record


class ResidualSublayer(keras.layers.Layer):
    """Base for a sublayer wrapped as `norm(x + dropout(f(x)))` or `x + dropout(f(norm(x)))`.

    Subclasses call `self.residual(x, f, training)`; `normalize_first=False` is the paper's
    post-norm (Transformer, BERT), `True` is pre-norm (GPT-2).
    """

    def __init__(self, dropout=0.0, normalize_first=False, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.dropout = dropout
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.supports_masking = True
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="output_dropout"
        )

    def residual(self, x, sublayer, training=None):
        residual = x
        if self.normalize_first:
            x = self.layer_norm(x)
        added = self.output_dropout(sublayer(x), training=training)
        x = added + residual
        if not self.normalize_first:
            x = self.layer_norm(x)
        if capturing():  # an eager pass inside `capture()`: keep what this sublayer did
            attention = getattr(self, "last_attention_scores", None)
            record(self, residual, added, x, attention)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "dropout": self.dropout,
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
