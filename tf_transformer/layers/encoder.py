"""The encoder: `EncoderLayer` (self-attention + feed-forward) and `Encoder` (the stack)."""

import keras

from tf_transformer.layers.attention import GlobalSelfAttention
from tf_transformer.layers.feed_forward import FeedForward
from tf_transformer.layers.masks import padding_mask as ids_padding_mask
from tf_transformer.layers.stack import TransformerBlock, TransformerStack


@keras.saving.register_keras_serializable(package="tf_transformer")
class EncoderLayer(TransformerBlock):
    """One encoder block: `GlobalSelfAttention` then `FeedForward`.

    `call(x, padding_mask=None)`; `padding_mask` is `(batch, length)`, `True` at real
    tokens, and padded positions get attention weight 0.

    Args:
        d_model: model width.
        num_heads: attention heads (`d_model` must be divisible by it).
        dff: feed-forward inner width.
        dropout: dropout rate (attention probabilities and sublayer outputs).
        activation: feed-forward activation.
        normalize_first: pre-norm (`True`) or the paper's post-norm (`False`).
        layer_norm_epsilon: LayerNorm epsilon.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import EncoderLayer
    EncoderLayer(d_model=16, num_heads=2, dff=32)(np.ones((1, 4, 16), "float32")).shape
    ```
    """

    def __init__(self, d_model, num_heads, dff, **kwargs):
        super().__init__(d_model, num_heads, dff, **kwargs)
        options = self.sublayer_options()
        self.self_attention = GlobalSelfAttention(
            num_heads, self.key_dim, name="self_attention", **options
        )
        self.feed_forward = FeedForward(
            d_model, dff, activation=self.activation, name="feed_forward", **options
        )

    def build(self, x_shape):
        self.self_attention.build(x_shape)
        self.feed_forward.build(x_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=None):
        x = self.self_attention(x, padding_mask=padding_mask, training=training)
        return self.feed_forward(x, training=training)


@keras.saving.register_keras_serializable(package="tf_transformer")
class Encoder(TransformerStack):
    """Token ids to contextual vectors: `PositionalEmbedding`, dropout, `EncoderLayer`s.

    `call(token_ids, padding_mask=None)` returns `(batch, length, d_model)`; the padding
    mask defaults to `token_ids != 0`. With `normalize_first` a final LayerNorm follows the
    stack, since pre-norm blocks leave their output unnormalized.

    Args:
        num_layers: number of `EncoderLayer`s.
        d_model, num_heads, dff, dropout, activation, normalize_first, layer_norm_epsilon:
            as `EncoderLayer`.
        vocab_size: input vocabulary size.
        max_length: longest input (the size of a learned position table).
        position: `"sinusoidal"` (paper) or `"learned"`.
        scale_embedding: multiply token embeddings by sqrt(d_model) (paper).

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import Encoder
    encoder = Encoder(num_layers=2, d_model=16, num_heads=2, dff=32, vocab_size=50)
    encoder(np.array([[3, 4, 5, 0, 0]])).shape  # (1, 5, 16)
    ```
    """

    def make_block(self, index):
        return EncoderLayer(name=f"encoder_layer_{index}", **self.block_options())

    def build(self, token_ids_shape):
        self.build_stack(token_ids_shape)

    def call(self, token_ids, padding_mask=None, training=None):
        if padding_mask is None:
            padding_mask = ids_padding_mask(token_ids)
        x = self.embed(token_ids, training=training)
        for block in self.blocks:
            x = block(x, padding_mask=padding_mask, training=training)
        return self.finish(x)
