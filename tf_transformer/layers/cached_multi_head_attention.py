"""`keras.layers.MultiHeadAttention` with a key/value cache and an explicit float32 softmax."""

import warnings

import keras
import tensorflow as tf
from keras import ops

# One key per query is legitimate here (the first position of a causal sequence, a
# one-token source); Keras warns about any softmax over an axis of static size 1.
warnings.filterwarnings(
    "ignore", message="You are using a softmax over axis -1", category=UserWarning
)


def write_at(cache, updates, index, axis):
    """`cache` with `updates` written along `axis` from `index` on (the other axes equal).

    Slices and a concatenation: a copy, in core ops that every TensorFlow Serving build
    runs (`ops.slice_update` lowers to `XlaDynamicUpdateSlice`, which needs XLA).
    """
    steps = ops.shape(updates)[axis]
    head = (slice(None),) * axis
    written = tf.concat(
        [cache[head + (slice(None, index),)], updates, cache[head + (slice(index + steps, None),)]],
        axis=axis,
    )
    return tf.ensure_shape(written, cache.shape)


@keras.saving.register_keras_serializable(package="tf_transformer")
class CachedMultiHeadAttention(keras.layers.MultiHeadAttention):
    """Multi-head attention over 3D `(batch, length, features)` inputs, with a cache.

    Same weights and config as `keras.layers.MultiHeadAttention`; the differences are in
    `call`:
    - `attention_mask` is boolean `(batch or 1, queries or 1, keys)`, `True` = attend.
      Masked positions get a probability of exactly 0.
    - The softmax runs in float32 whatever the compute dtype (mixed precision).
    - `cache` of shape `(batch, 2, num_heads, cache_length, key_dim)` holds keys (index 0)
      and values (index 1), heads before positions, so that attending over it is a
      batched matrix product with no transpose of the cache. With `cache_update_index`,
      the keys and values of `query`'s tokens are written at that position and attention
      runs over the whole cache (the self-attention step of cached decoding). Without it,
      the cache is used as it is (precomputed cross-attention keys/values). Either way
      `call` returns `(output, cache)`.
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
        if cache is None:
            heads = self._attend(
                query_heads, self.key_dense(key), self.value_dense(value), attention_mask, training
            )
            return self.output_dense(heads)
        if cache_update_index is not None:
            new = self.compute_cache(value, key)
            cache = write_at(cache, new, cache_update_index, axis=3)
        heads = self._attend(
            query_heads, cache[:, 0], cache[:, 1], attention_mask, training, heads_first=True
        )
        return self.output_dense(heads), cache

    def compute_cache(self, value, key=None):
        """Keys and values of `value` (and `key`) as a cache: `(batch, 2, num_heads,
        length, key_dim)`."""
        key = value if key is None else key
        stacked = ops.stack([self.key_dense(key), self.value_dense(value)], axis=1)
        return ops.transpose(stacked, (0, 1, 3, 2, 4))

    def _attend(self, query, key, value, attention_mask, training, heads_first=False):
        """Attention of `query` `(batch, queries, heads, key_dim)` over `key` and `value`,
        `(batch, keys, heads, key_dim)`, or `(batch, heads, keys, key_dim)` if
        `heads_first` (a cache)."""
        keys = "bnsh" if heads_first else "bsnh"
        query = query * ops.cast(1.0 / (self.key_dim**0.5), query.dtype)
        scores = ops.cast(ops.einsum(f"btnh,{keys}->bnts", query, key), "float32")
        if attention_mask is not None:
            mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
            scores = ops.where(mask, scores, -1e9)
            probabilities = ops.where(mask, ops.softmax(scores, axis=-1), 0.0)
        else:
            probabilities = ops.softmax(scores, axis=-1)
        self.last_attention_scores = probabilities
        dropped = self._dropout_layer(ops.cast(probabilities, value.dtype), training=training)
        return ops.einsum(f"bnts,{keys}->btnh", dropped, value)

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self._output_shape or query_shape[-1],)
