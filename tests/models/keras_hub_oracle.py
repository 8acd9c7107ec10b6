"""KerasHub backbones as the oracle of the converter tests: random weights (LayerNorm and
biases too), a padded batch, and the comparisons of our outputs with theirs."""

import keras
import numpy as np

VOCAB = 300
SIZE = dict(vocabulary_size=VOCAB, num_layers=2, num_heads=4, hidden_dim=64, intermediate_dim=96)


def randomized(hub):
    """`hub` with every weight drawn anew (away from LayerNorm's 1s and the biases' 0s)."""
    rng = np.random.default_rng(0)
    for variable in hub.weights:
        variable.assign(rng.normal(0, 0.3, variable.shape))
    return hub


def padded_batch(seed, length=17):
    """Three rows of ids, right-padded to `length`: full, about half, one token."""
    ids = np.random.default_rng(seed).integers(1, VOCAB, size=(3, length)).astype("int32")
    lengths = np.array([length, length // 2 + 1, 1])
    mask = np.arange(length)[None, :] < lengths[:, None]
    return np.where(mask, ids, 0), mask, lengths


def assert_real_positions_close(ours, theirs, lengths, atol=2e-5):
    """Equal within `atol` (no relative slack) on each row's real positions."""
    ours, theirs = (keras.ops.convert_to_numpy(x) for x in (ours, theirs))
    for row, length in enumerate(lengths):
        np.testing.assert_allclose(ours[row, :length], theirs[row, :length], atol=atol, rtol=0)


def assert_bert_outputs_close(encoder, hub, seed):
    """`encoder`'s sequence and pooled outputs are `hub`'s on a padded two-segment batch."""
    ids, mask, lengths = padded_batch(seed)
    segments = (np.arange(ids.shape[1])[None, :] >= 5).astype("int32") * mask
    theirs = hub({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    sequence = encoder(ids, segment_ids=segments, padding_mask=mask)
    assert_real_positions_close(sequence, theirs["sequence_output"], lengths)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(encoder.pool(sequence)),
        keras.ops.convert_to_numpy(theirs["pooled_output"]),
        atol=2e-5,
        rtol=0,
    )
