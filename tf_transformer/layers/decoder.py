"""The decoder: `DecoderLayer` (causal self-attention, cross-attention, feed-forward) and
`Decoder` (the stack), both with a cached single-step mode for generation."""

import keras
from keras import ops

from tf_transformer.layers.attention import CausalSelfAttention, CrossAttention
from tf_transformer.layers.feed_forward import FeedForward
from tf_transformer.layers.masks import padding_mask as ids_padding_mask
from tf_transformer.layers.stack import TransformerBlock, TransformerStack


@keras.saving.register_keras_serializable(package="tf_transformer")
class DecoderLayer(TransformerBlock):
    """One decoder block: `CausalSelfAttention`, `CrossAttention` (optional), `FeedForward`.

    Full-sequence mode: `call(x, context, padding_mask=None, context_padding_mask=None)`.
    Cached mode adds `cache` (this block's `(batch, 2, heads, max_length, key_dim)`
    self-attention keys/values), `cache_update_index` (position of `x`'s first token) and
    optionally `cross_cache` (the context's keys/values from
    `cross_attention.compute_cache`), and returns `(x, updated_cache)`.

    Args:
        d_model, num_heads, dff, dropout, activation, normalize_first, layer_norm_epsilon:
            as `EncoderLayer`.
        use_cross_attention: `False` makes a decoder-only (GPT-style) block.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import DecoderLayer
    layer = DecoderLayer(d_model=16, num_heads=2, dff=32)
    x, context = np.ones((1, 4, 16), "float32"), np.ones((1, 6, 16), "float32")
    layer(x, context).shape  # (1, 4, 16)
    ```
    """

    def __init__(self, d_model, num_heads, dff, use_cross_attention=True, **kwargs):
        super().__init__(d_model, num_heads, dff, **kwargs)
        self.use_cross_attention = use_cross_attention
        options = self.sublayer_options()
        self.self_attention = CausalSelfAttention(
            num_heads, self.key_dim, name="self_attention", **options
        )
        self.cross_attention = None
        if use_cross_attention:
            self.cross_attention = CrossAttention(
                num_heads, self.key_dim, name="cross_attention", **options
            )
        self.feed_forward = FeedForward(
            d_model, dff, activation=self.activation, name="feed_forward", **options
        )

    def build(self, x_shape, context_shape=None):
        self.self_attention.build(x_shape)
        if self.cross_attention is not None:
            self.cross_attention.build(x_shape, context_shape or x_shape)
        self.feed_forward.build(x_shape)
        self.built = True

    def call(
        self,
        x,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        cache=None,
        cross_cache=None,
        cache_update_index=None,
        training=None,
    ):
        if cache is None:
            x = self.self_attention(x, padding_mask=padding_mask, training=training)
        else:
            x, cache = self.self_attention(
                x,
                padding_mask=padding_mask,
                cache=cache,
                cache_update_index=cache_update_index,
                training=training,
            )
        if self.cross_attention is not None:
            x = self.cross_attention(
                x,
                context=context,
                context_padding_mask=context_padding_mask,
                cache=cross_cache,
                training=training,
            )
        x = self.feed_forward(x, training=training)
        return x if cache is None else (x, cache)

    def get_config(self):
        config = super().get_config()
        config["use_cross_attention"] = self.use_cross_attention
        return config


@keras.saving.register_keras_serializable(package="tf_transformer")
class Decoder(TransformerStack):
    """Target ids (and the encoder output) to hidden states: embedding, `DecoderLayer`s.

    Full-sequence mode, for training:
    `call(token_ids, context, padding_mask=None, context_padding_mask=None)` returns
    `(batch, length, d_model)`; `padding_mask` defaults to `token_ids != 0`.

    Cached mode, for generation: start from `cache = init_cache(batch, max_length)` and
    `cross_cache = compute_cross_cache(context)`, then call with `cache=`, `cross_cache=`
    and `cache_update_index=t` on the token(s) at position `t`; it returns
    `(hidden_states, updated_cache)`. In this mode `padding_mask`, if given, covers the
    whole cache: `(batch, max_length)`, and `positions` `(batch, length)` may give each
    row its own positions (a left-padded prompt's first real token is at position 0).

    The cross-attention probabilities of the last block are in `last_attention_scores`.

    Args:
        num_layers: number of `DecoderLayer`s.
        use_cross_attention: `False` for a decoder-only (GPT-style) stack.
        Others: as `Encoder`.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import Decoder
    decoder = Decoder(num_layers=2, d_model=16, num_heads=2, dff=32, vocab_size=50)
    context = np.ones((1, 6, 16), "float32")
    decoder(np.array([[1, 7, 8]]), context).shape  # (1, 3, 16)
    ```
    """

    def __init__(self, *args, use_cross_attention=True, **kwargs):
        self.use_cross_attention = use_cross_attention
        super().__init__(*args, **kwargs)

    def make_block(self, index):
        return DecoderLayer(
            use_cross_attention=self.use_cross_attention,
            name=f"decoder_layer_{index}",
            **self.block_options(),
        )

    def build(self, token_ids_shape, context_shape=None):
        self.build_stack(token_ids_shape, context_shape)

    def call(
        self,
        token_ids,
        context=None,
        padding_mask=None,
        context_padding_mask=None,
        cache=None,
        cross_cache=None,
        cache_update_index=None,
        positions=None,
        training=None,
    ):
        start = 0 if cache_update_index is None else cache_update_index
        if padding_mask is None and cache is None:
            padding_mask = ids_padding_mask(token_ids)
        x = self.embed(token_ids, start, positions=positions, training=training)
        updated = []
        for i, block in enumerate(self.blocks):
            out = block(
                x,
                context=context,
                padding_mask=padding_mask,
                context_padding_mask=context_padding_mask,
                cache=None if cache is None else cache[:, i],
                cross_cache=None if cross_cache is None else cross_cache[:, i],
                cache_update_index=start,
                training=training,
            )
            if cache is None:
                x = out
            else:
                x, layer_cache = out
                updated.append(layer_cache)
        x = self.finish(x)
        return x if cache is None else (x, ops.stack(updated, axis=1))

    def init_cache(self, batch_size, max_length=None):
        """Zeros of shape `(batch, num_layers, 2, num_heads, max_length, key_dim)`."""
        length = self.max_length if max_length is None else max_length
        shape = (batch_size, self.num_layers, 2, self.num_heads, length, self.key_dim)
        return ops.zeros(shape, dtype=self.compute_dtype)

    def compute_cross_cache(self, context):
        """Every block's cross-attention keys/values of `context`, computed once:
        `(batch, num_layers, 2, num_heads, context_length, key_dim)`."""
        return ops.stack(
            [block.cross_attention.compute_cache(context) for block in self.blocks], axis=1
        )

    @property
    def last_attention_scores(self):
        attention = self.blocks[-1].cross_attention or self.blocks[-1].self_attention
        return attention.last_attention_scores

    def get_config(self):
        config = super().get_config()
        config["use_cross_attention"] = self.use_cross_attention
        return config
