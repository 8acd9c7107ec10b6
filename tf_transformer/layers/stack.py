"""Shared bases for encoder/decoder blocks and stacks: one place for their common options."""

import keras

from tf_transformer.layers.positional_embedding import PositionalEmbedding


def head_size(d_model, num_heads):
    """`d_model // num_heads`, refusing widths that do not split evenly across heads."""
    if d_model % num_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
    return d_model // num_heads


class TransformerBlock(keras.layers.Layer):
    """Common options of `EncoderLayer` and `DecoderLayer` (see there)."""

    def __init__(
        self,
        d_model,
        num_heads,
        dff,
        dropout=0.1,
        activation="relu",
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff
        self.dropout = dropout
        self.activation = activation
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = head_size(d_model, num_heads)

    def sublayer_options(self):
        """Keyword arguments every sublayer of the block is built with."""
        return dict(
            dropout=self.dropout,
            normalize_first=self.normalize_first,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
        )

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "dropout": self.dropout,
                "activation": self.activation,
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config


class TransformerStack(keras.layers.Layer):
    """Embedding, dropout, `num_layers` blocks and (pre-norm only) a final LayerNorm.

    Subclasses name their block with `make_block(index)` and write `call`.
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        vocab_size,
        max_length=2048,
        dropout=0.1,
        activation="relu",
        normalize_first=False,
        position="sinusoidal",
        scale_embedding=True,
        layer_norm_epsilon=1e-6,
        token_embedding=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.dropout = dropout
        self.activation = activation
        self.normalize_first = normalize_first
        self.position = position
        self.scale_embedding = scale_embedding
        self.layer_norm_epsilon = layer_norm_epsilon
        self.key_dim = head_size(d_model, num_heads)
        self.embedding = PositionalEmbedding(
            vocab_size,
            d_model,
            max_length=max_length,
            position=position,
            scale=scale_embedding,
            token_embedding=token_embedding,
            dtype=self.dtype_policy,
            name="embedding",
        )
        self.embedding_dropout = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="embedding_dropout"
        )
        self.blocks = [self.make_block(i) for i in range(num_layers)]
        self.final_layer_norm = None
        if normalize_first:
            self.final_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="final_layer_norm"
            )

    def block_options(self):
        """Keyword arguments every block of the stack is built with."""
        return dict(
            d_model=self.d_model,
            num_heads=self.num_heads,
            dff=self.dff,
            dropout=self.dropout,
            activation=self.activation,
            normalize_first=self.normalize_first,
            layer_norm_epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
        )

    def make_block(self, index):
        raise NotImplementedError

    def build_stack(self, token_ids_shape, *block_shapes):
        self.embedding.build(token_ids_shape)
        hidden_shape = tuple(token_ids_shape) + (self.d_model,)
        for block in self.blocks:
            block.build(hidden_shape, *block_shapes)
        if self.final_layer_norm is not None:
            self.final_layer_norm.build(hidden_shape)
        self.built = True

    def embed(self, token_ids, start_index=0, positions=None, training=None):
        embedded = self.embedding(token_ids, start_index=start_index, positions=positions)
        return self.embedding_dropout(embedded, training=training)

    def finish(self, x):
        return x if self.final_layer_norm is None else self.final_layer_norm(x)

    def compute_output_shape(self, token_ids_shape, *args, **kwargs):
        return tuple(token_ids_shape) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "vocab_size": self.vocab_size,
                "max_length": self.max_length,
                "dropout": self.dropout,
                "activation": self.activation,
                "normalize_first": self.normalize_first,
                "position": self.position,
                "scale_embedding": self.scale_embedding,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
