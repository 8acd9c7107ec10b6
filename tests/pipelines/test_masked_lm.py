import numpy as np
import pytest
import tensorflow as tf

from pipelines import masked_lm
from tf_transformer.text import END_ID, MASK_ID, PAD_ID, START_ID

VOCAB, SEQ = 1000, 64


def sample_ids(rows=400, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, SEQ - 1, size=rows)
    return tf.ragged.constant(
        [[START_ID] + list(rng.integers(5, VOCAB, size=n - 2)) + [END_ID] for n in lengths],
        dtype=tf.int32,
    )


def test_masking_rates_and_positions():
    ids = sample_ids()
    masked, labels, weights = masked_lm.mask_tokens(ids, VOCAB, SEQ)
    masked, labels, weights = masked.numpy(), labels.numpy(), weights.numpy()
    original = ids.to_tensor(shape=[None, SEQ]).numpy()
    maskable = original >= 5
    assert maskable.sum() > 10_000

    selected = weights > 0
    assert not np.any(selected & ~maskable), "selected [PAD]/[START]/[END]"
    # TF Text selects ceil(15%) of each row's maskable tokens: exact per row, and about 15%
    # (a little over, by the rounding up) across the 10,000+ tokens
    np.testing.assert_array_equal(selected.sum(1), np.ceil(maskable.sum(1) * 0.15))
    rate = selected.sum() / maskable.sum()
    assert 0.15 <= rate <= 0.15 + len(original) / maskable.sum()
    np.testing.assert_array_equal(labels[selected], original[selected])
    assert np.all(labels[~selected] == 0) and np.all(weights[~selected] == 0)

    as_mask = (masked[selected] == MASK_ID).mean()
    unchanged = (masked[selected] == original[selected]).mean()
    assert as_mask == pytest.approx(0.8, abs=0.03)
    assert unchanged == pytest.approx(0.1, abs=0.03)
    assert 1 - as_mask - unchanged == pytest.approx(0.1, abs=0.03)
    np.testing.assert_array_equal(masked[~selected], original[~selected])
    assert np.all(masked[original == PAD_ID] == PAD_ID)


class _IdsTokenizer:
    """Splits on spaces into integer ids: enough to test the text-to-batch path."""

    vocab_size = VOCAB

    def tokenize(self, texts):
        return tf.strings.to_number(tf.strings.split(texts), tf.int32)


def test_mlm_batches_have_fixed_length_and_specs():
    texts = tf.data.Dataset.from_tensor_slices([" ".join(["7"] * n) for n in range(1, 200)])
    batches = masked_lm.make_mlm_batches(texts, _IdsTokenizer(), seq_len=SEQ, batch_size=16)
    assert batches.element_spec == (
        tf.TensorSpec([None, SEQ], tf.int32),
        tf.TensorSpec([None, SEQ], tf.int32),
        tf.TensorSpec([None, SEQ], tf.float32),
    )
    for masked, labels, _ in batches:
        starts = masked[:, 0].numpy()
        assert np.all(starts == START_ID)
        assert np.all(np.sum(masked.numpy() == END_ID, axis=1) == 1)  # truncated, then framed
        assert np.all((labels.numpy() == 0) | (labels.numpy() == 7))
