"""Token embeddings plus positions: the paper's sinusoids or learned position vectors."""

import math

import keras
from keras import ops

from tf_transformer.layers.capture import capturing, record


def sinusoids(positions, depth):
    """Sinusoidal encodings of `positions` (any integer tensor), shape `positions.shape + (depth,)`.

    PE(pos, 2i) = sin(pos / 10000^(2i/depth)), PE(pos, 2i+1) = cos(pos / 10000^(2i/depth)).
    """
    dims = ops.arange(depth)
    exponent = ops.cast(2 * (dims // 2), "float32") / float(depth)
    inverse_frequency = ops.power(10000.0, -exponent)
    angles = ops.expand_dims(ops.cast(positions, "float32"), -1) * inverse_frequency
    is_even = ops.equal(dims % 2, 0)
    return ops.where(is_even, ops.sin(angles), ops.cos(angles))


def positional_encoding(length, depth):
    """The paper's sinusoidal table, shape `(length, depth)`, float32.

    Sine on even dimensions, cosine on odd ones, interleaved as in the paper (section 3.5).
    """
    return sinusoids(ops.arange(length), depth)


@keras.saving.register_keras_serializable(package="tf_transformer")
class PositionalEmbedding(keras.layers.Layer):
    """Token embedding plus position encoding.

    `call(token_ids, start_index=0, positions=None)` embeds `token_ids` (times
    sqrt(d_model) when `scale`) and adds the encoding of positions `start_index ..
    start_index + length - 1`, so that cached decoding can embed one token at its true
    position; `positions` `(batch, length)` gives each row its own (left-padded prompts).
    Produces no Keras mask: the models derive padding masks from the ids and pass them
    explicitly.

    Args:
        vocab_size: number of token ids.
        d_model: embedding width.
        max_length: longest sequence; the size of the learned position table.
        position: `"sinusoidal"` (the paper, no weights) or `"learned"` (BERT, GPT).
        scale: multiply token embeddings by sqrt(d_model), as the paper does.
        embeddings_initializer: initializer for both tables.
        token_embedding: an existing `keras.layers.Embedding` to use (and share) instead of
            creating one: how the seq2seq model ties source and target embeddings. Not
            part of the config; the model that shares it recreates the sharing.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import PositionalEmbedding
    layer = PositionalEmbedding(vocab_size=100, d_model=16, max_length=32)
    layer(np.array([[5, 6, 7, 0]])).shape  # (1, 4, 16)
    ```

    References:
        Vaswani et al., "Attention Is All You Need", 2017, section 3.4 and 3.5.
    """

    def __init__(
        self,
        vocab_size,
        d_model,
        max_length=2048,
        position="sinusoidal",
        scale=True,
        embeddings_initializer="uniform",
        token_embedding=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if position not in ("sinusoidal", "learned"):
            raise ValueError(f"position must be 'sinusoidal' or 'learned', got {position!r}")
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_length = max_length
        self.position = position
        self.scale = scale
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = token_embedding or keras.layers.Embedding(
            vocab_size,
            d_model,
            embeddings_initializer=self.embeddings_initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.position_embedding = None
        if position == "learned":
            self.position_embedding = keras.layers.Embedding(
                max_length,
                d_model,
                # A fresh copy: an unseeded initializer draws the same numbers each call,
                # which would make position i's vector token i's.
                embeddings_initializer=keras.initializers.get(
                    keras.initializers.serialize(self.embeddings_initializer)
                ),
                dtype=self.dtype_policy,
                name="position_embedding",
            )

    def build(self, token_ids_shape):
        if not self.token_embedding.built:  # a shared embedding is built once
            self.token_embedding.build(token_ids_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((None,))
        self.built = True

    def call(self, token_ids, start_index=0, positions=None):
        x = self.token_embedding(token_ids)
        if self.scale:
            x = x * ops.cast(math.sqrt(self.d_model), x.dtype)
        if positions is None:
            positions = ops.arange(ops.shape(token_ids)[1]) + start_index
        if self.position_embedding is not None:
            encoded = self.position_embedding(positions)
        else:
            encoded = sinusoids(positions, self.d_model)
        summed = x + ops.cast(encoded, x.dtype)
        if capturing():  # the token embedding (as scaled), the positions' and their sum
            record(self, x, ops.broadcast_to(ops.cast(encoded, x.dtype), ops.shape(x)), summed)
        return summed

    def compute_output_shape(self, token_ids_shape):
        return tuple(token_ids_shape) + (self.d_model,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "d_model": self.d_model,
                "max_length": self.max_length,
                "position": self.position,
                "scale": self.scale,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config
