"""`keras.layers.MultiHeadAttention` with a key/value cache and an explicit float32 softmax."""

import warnings

import keras
from keras import ops

# One key per query is legitimate here (the first position of a causal sequence, a
# one-token source); Keras warns about any softmax over an axis of static size 1.
warnings.filterwarnings(
    "ignore", message="You are using a softmax over axis -1", category=UserWarning
)


def write_at(cache, updates, index):
    """`cache` `(batch, length, ...)` with `updates` `(batch, steps, ...)` written at `index`.

    A one-hot product rather than `ops.slice_update`: on TensorFlow that lowers to
    `XlaDynamicUpdateSlice`, which needs XLA, while this stays in core ops that every
    TensorFlow Serving build runs.
    """
    steps = ops.arange(ops.shape(updates)[1]) + index
    slots = ops.arange(ops.shape(cache)[1])
    one_hot = ops.cast(ops.equal(ops.expand_dims(steps, 1), slots), updates.dtype)
    placed = ops.einsum("tl,bt...->bl...", one_hot, updates)
    written = ops.max(one_hot, axis=0) > 0
    written = ops.reshape(written, (1, -1) + (1,) * (len(cache.shape) - 2))
    return ops.where(written, placed, cache)


@keras.saving.register_keras_serializable(package="tf_transformer")
class CachedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head attention over 3D `(batch, length, features)` inputs, with a cache.

    Same weights and config as `keras.layers.MultiHeadAttention`; the differences are in
    `call`:
    - `attention_mask` is boolean `(batch or 1, queries or 1, keys)`, `True` = attend.
      Masked positions get a probability of exactly 0.
    - The softmax runs in float32 whatever the compute dtype (mixed precision).
    - `cache` of shape `(batch, 2, cache_length, num_heads, key_dim)` holds keys (index 0)
      and values (index 1). With `cache_update_index`, the keys and values of `query`'s
      tokens are written at that position and attention runs over the whole cache (the
      self-attention step of cached decoding). Without it, the cache is used as it is
      (precomputed cross-attention keys/values). Either way `call` returns
      `(output, cache)`.
    - The attention probabilities of the last call are kept in `last_attention_scores`,
      `(batch, num_heads, queries, keys)`, for plotting.

    Args: as `keras.layers.MultiHeadAttention`.
    """

    def call(
        self,
        query,
        value,
        key=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        key = value if key is None else key
        query_heads = self.query_dense(query)
        if cache is not None and cache_update_index is None:
            key_heads, value_heads = cache[:, 0], cache[:, 1]
        else:
            key_heads = self.key_dense(key)
            value_heads = self.value_dense(value)
            if cache is not None:
                key_heads = write_at(cache[:, 0], key_heads, cache_update_index)
                value_heads = write_at(cache[:, 1], value_heads, cache_update_index)
                cache = ops.stack([key_heads, value_heads], axis=1)
        output = self.output_dense(
            self._attend(query_heads, key_heads, value_heads, attention_mask, training)
        )
        if cache is not None:
            return output, cache
        return output

    def compute_cache(self, value, key=None):
        """Keys and values of `value` (and `key`), stacked as a `(batch, 2, ...)` cache."""
        key = value if key is None else key
        return ops.stack([self.key_dense(key), self.value_dense(value)], axis=1)

    def _attend(self, query, key, value, attention_mask, training):
        query = query * ops.cast(1.0 / (self.key_dim**0.5), query.dtype)
        scores = ops.cast(ops.einsum("btnh,bsnh->bnts", query, key), "float32")
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
            scores = ops.where(mask, scores, -1e9)
            probabilities = ops.where(mask, ops.softmax(scores, axis=-1), 0.0)
        else:
            probabilities = ops.softmax(scores, axis=-1)
        self.last_attention_scores = probabilities
        dropped = self._dropout_layer(ops.cast(probabilities, value.dtype), training=training)
        return ops.einsum("bnts,bsnh->btnh", dropped, value)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self._output_shape or query_shape[-1],)
