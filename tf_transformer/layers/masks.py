"""Attention masks built from token ids and positions.

Token id 0 is `[PAD]`; every mask here is boolean and `True` where attention is allowed.
"""

from keras import ops

PAD_ID = 0


def padding_mask(token_ids):
    """`True` at real tokens, `False` at `[PAD]` (id 0). Shape: same as `token_ids`."""
    return ops.not_equal(token_ids, PAD_ID)


def causal_mask(query_length, key_length, start_index=0):
    """`(query_length, key_length)` mask letting query `i` see keys `j <= start_index + i`.

    `start_index` is the position of the first query, which is what cached decoding needs:
    a single new token at position `t` attends to the `t + 1` cached keys before it.
    """
    rows = ops.expand_dims(ops.arange(query_length) + start_index, 1)
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return ops.greater_equal(rows, cols)


def merge_masks(key_padding_mask=None, causal=None):
    """Combines a `(batch, keys)` padding mask and a `(queries, keys)` causal mask.

    Returns a `(batch or 1, queries or 1, keys)` boolean mask, or `None` if both are `None`.
    """
    mask = None
    if key_padding_mask is not None:
        mask = ops.expand_dims(ops.cast(key_padding_mask, "bool"), 1)
    if causal is not None:
        causal = ops.expand_dims(ops.cast(causal, "bool"), 0)
        mask = causal if mask is None else ops.logical_and(mask, causal)
    return mask
