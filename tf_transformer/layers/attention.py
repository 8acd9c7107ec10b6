"""The tutorial's three attention sublayers: global, causal (cached) and cross (cached)."""

import keras
from keras import ops

from tf_transformer.layers.cached_multi_head_attention import CachedMultiHeadAttention
from tf_transformer.layers.masks import causal_mask, merge_masks
from tf_transformer.layers.residual import ResidualSublayer


@keras.saving.register_keras_serializable(package="tf_transformer")
class BaseAttention(ResidualSublayer):
    """Multi-head attention with dropout, a residual connection and LayerNorm.

    Masks are explicit boolean tensors (`True` = real token) passed by the caller; nothing
    relies on Keras' implicit `_keras_mask`. The attention probabilities of the last call
    are in `last_attention_scores`, `(batch, heads, queries, keys)`, float32.

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head; `num_heads * key_dim` is usually `d_model`.
        dropout: rate for attention probabilities and for the sublayer output.
        normalize_first: pre-norm (`True`) or the paper's post-norm (`False`).
        layer_norm_epsilon: LayerNorm epsilon.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
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
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.attention = CachedMultiHeadAttention(
            num_heads=num_heads,
            key_dim=key_dim,
            dropout=dropout,
            dtype=self.dtype_policy,
            name="attention",
        )

    def build(self, x_shape, context_shape=None):
        self.attention.build(x_shape, context_shape or x_shape)
        self.layer_norm.build(x_shape)
        self.built = True

    @property
    def last_attention_scores(self):
        return getattr(self.attention, "last_attention_scores", None)

    def compute_output_shape(self, x_shape, *args, **kwargs):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update({"num_heads": self.num_heads, "key_dim": self.key_dim})
        return config


@keras.saving.register_keras_serializable(package="tf_transformer")
class GlobalSelfAttention(BaseAttention):
    """Self-attention where every token sees every real token (the encoder's).

    `call(x, padding_mask=None)`: `padding_mask` is `(batch, length)`, `True` at real
    tokens; padded keys get attention weight 0.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers import GlobalSelfAttention
    layer = GlobalSelfAttention(num_heads=2, key_dim=8)
    layer(np.zeros((1, 5, 16), "float32")).shape  # (1, 5, 16)
    ```
    """

    def build(self, x_shape):
        super().build(x_shape)

    def call(self, x, padding_mask=None, training=None):
        mask = merge_masks(padding_mask)
        return self.residual(
            x, lambda h: self.attention(h, h, attention_mask=mask, training=training), training
        )


@keras.saving.register_keras_serializable(package="tf_transformer")
class CausalSelfAttention(BaseAttention):
    """Self-attention where position `i` sees positions `<= i` (the decoder's).

    Full-sequence mode: `call(x, padding_mask=None)` returns the output.

    Cached mode, for decoding a token (or a chunk) at a time: `call(x, padding_mask=None,
    cache=cache, cache_update_index=t)` writes the keys/values of `x` at position `t` of
    `cache` (`(batch, 2, num_heads, max_length, key_dim)`, zeros to start), attends over
    the cache up to each query's position, and returns `(output, updated_cache)`. Here
    `padding_mask`, if given, covers the whole cache: `(batch, max_length)`.
    """

    def build(self, x_shape):
        super().build(x_shape)

    def call(self, x, padding_mask=None, cache=None, cache_update_index=None, training=None):
        query_length = ops.shape(x)[1]
        if cache is None:
            causal = causal_mask(query_length, query_length)
        else:
            start = 0 if cache_update_index is None else cache_update_index
            causal = causal_mask(query_length, ops.shape(cache)[3], start)
            cache_update_index = start
        mask = merge_masks(padding_mask, causal)
        new_cache = None

        def attend(h):
            nonlocal new_cache
            if cache is None:
                return self.attention(h, h, attention_mask=mask, training=training)
            out, new_cache = self.attention(
                h,
                h,
                attention_mask=mask,
                cache=cache,
                cache_update_index=cache_update_index,
                training=training,
            )
            return out

        x = self.residual(x, attend, training)
        return x if cache is None else (x, new_cache)


@keras.saving.register_keras_serializable(package="tf_transformer")
class CrossAttention(BaseAttention):
    """Attention from decoder tokens (queries) to the encoder output (keys and values).

    `call(x, context, context_padding_mask=None)`; `context_padding_mask` is
    `(batch, context_length)`, `True` at real source tokens. For cached decoding, compute
    the context's keys/values once with `compute_cache(context)` and pass them as
    `cache=`; `context` may then be `None`.
    """

    def call(self, x, context=None, context_padding_mask=None, cache=None, training=None):
        if context is None and cache is None:
            raise ValueError("CrossAttention needs `context` or a precomputed `cache`.")
        mask = merge_masks(context_padding_mask)

        def attend(h):
            if cache is None:
                return self.attention(h, context, attention_mask=mask, training=training)
            return self.attention(h, h, attention_mask=mask, cache=cache, training=training)[0]

        return self.residual(x, attend, training)

    def compute_cache(self, context):
        """The context's keys and values, `(batch, 2, num_heads, context_length, key_dim)`."""
        return self.attention.compute_cache(context)
