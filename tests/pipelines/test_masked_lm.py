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
    masked, positions, labels = masked_lm.mask_tokens(ids, VOCAB, SEQ)
    masked = masked.to_tensor(shape=[None, SEQ]).numpy()
    positions, labels = positions.numpy(), labels.numpy()
    original = ids.to_tensor(shape=[None, SEQ]).numpy()
    assert positions.shape == labels.shape == (len(original), masked_lm.max_predictions(SEQ))
    maskable = original >= 5
    assert maskable.sum() > 10_000

    selected = np.zeros_like(maskable)
    for row, (where, label) in enumerate(zip(positions, labels, strict=True)):
        real = label > 0  # label 0 pads the prediction slots
        assert len(set(where[real])) == real.sum()
        selected[row, where[real]] = True
        np.testing.assert_array_equal(label[real], original[row, where[real]])
    assert not np.any(selected & ~maskable), "selected [PAD]/[START]/[END]"
    # TF Text selects ceil(15%) of each row's maskable tokens: exact per row, and about 15%
    # (a little over, by the rounding up) across the 10,000+ tokens
    np.testing.assert_array_equal(selected.sum(1), np.ceil(maskable.sum(1) * 0.15))
    rate = selected.sum() / maskable.sum()
    assert 0.15 <= rate <= 0.15 + len(original) / maskable.sum()

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


def test_mlm_batches_frame_truncate_and_pad_per_batch():
    texts = tf.data.Dataset.from_tensor_slices([" ".join(["7"] * n) for n in range(1, 200)])
    batches = masked_lm.make_mlm_batches(
        texts, _IdsTokenizer(), seq_len=SEQ, batch_size=16, shuffle=0
    )
    width = masked_lm.max_predictions(SEQ)
    assert batches.element_spec == (
        {
            "token_ids": tf.TensorSpec([None, None], tf.int32),
            "mask_positions": tf.TensorSpec([None, width], tf.int32),
        },
        tf.TensorSpec([None, width], tf.int32),
    )
    widths = []
    for inputs, labels in batches:
        ids = inputs["token_ids"].numpy()
        widths.append(ids.shape[1])
        assert np.all(ids[:, 0] == START_ID)
        assert np.all(np.sum(ids == END_ID, axis=1) == 1)  # truncated, then framed
        assert np.all((labels.numpy() == 0) | (labels.numpy() == 7))
    assert widths[0] == 18 and max(widths) == SEQ  # padded to the batch's longest, at most SEQ
