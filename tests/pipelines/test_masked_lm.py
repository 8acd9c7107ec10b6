import numpy as np
import pytest
import tensorflow as tf

from pipelines import masked_lm_batches
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
    masked, positions, labels = masked_lm_batches.mask_tokens(ids, VOCAB, SEQ)
    masked = masked.to_tensor(shape=[None, SEQ]).numpy()
    positions, labels = positions.numpy(), labels.numpy()
    original = ids.to_tensor(shape=[None, SEQ]).numpy()
    assert (
        positions.shape == labels.shape == (len(original), masked_lm_batches.max_predictions(SEQ))
    )
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


def test_a_checkpoints_special_ids_are_never_selected_and_its_mask_id_is_used():
    # BERT's: [CLS]=101 frames, [SEP]=102, [MASK]=103, [UNK]=100 in the text; ids 0-4 are
    # ordinary tokens of that vocabulary, so they may be masked
    rng = np.random.default_rng(1)
    rows = [[101] + list(rng.integers(0, 300, size=40)) + [100, 102] for _ in range(200)]
    ids = tf.ragged.constant(rows, dtype=tf.int32)
    special = [0, 100, 101, 102, 103]
    masked, positions, labels = masked_lm_batches.mask_tokens(
        ids, 300, SEQ, seed=[1, 2], mask_id=103, special_ids=special
    )
    masked, original = masked.to_tensor(-1).numpy(), ids.to_tensor(-1).numpy()
    selected = np.zeros(original.shape, bool)
    for row, (where, label) in enumerate(zip(positions.numpy(), labels.numpy(), strict=True)):
        selected[row, where[label > 0]] = True
    assert not np.any(selected & np.isin(original, special))
    assert np.any(selected & np.isin(original, [1, 2, 3, 4]))
    assert (masked[selected] == 103).mean() == pytest.approx(0.8, abs=0.05)
    replaced = selected & (masked != 103) & (masked != original)
    assert replaced.any() and not np.any(np.isin(masked[replaced], special))
    np.testing.assert_array_equal(masked[~selected], original[~selected])


class _IdsTokenizer:
    """Splits on spaces into integer ids: enough to test the text-to-batch path."""

    vocab_size = VOCAB
    pad_id, unk_id, start_id, end_id, mask_id = PAD_ID, 1, START_ID, END_ID, MASK_ID
    special_ids = {"pad": PAD_ID, "unk": 1, "start": START_ID, "end": END_ID, "mask": MASK_ID}

    def tokenize(self, texts):
        return tf.strings.to_number(tf.strings.split(texts), tf.int32)


def test_mlm_batches_frame_truncate_and_pad_per_batch():
    texts = tf.data.Dataset.from_tensor_slices([" ".join(["7"] * n) for n in range(1, 200)])
    batches = masked_lm_batches.make_mlm_batches(
        texts, _IdsTokenizer(), seq_len=SEQ, batch_size=16, shuffle=0
    )
    width = masked_lm_batches.max_predictions(SEQ)
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


def test_seeded_masking_keeps_the_rates_and_follows_the_seed():
    ids = sample_ids()
    masked, positions, labels = masked_lm_batches.mask_tokens(ids, VOCAB, SEQ, seed=(1, 2))
    again = masked_lm_batches.mask_tokens(ids, VOCAB, SEQ, seed=(1, 2))
    other = masked_lm_batches.mask_tokens(ids, VOCAB, SEQ, seed=(1, 3))
    np.testing.assert_array_equal(masked.to_tensor().numpy(), again[0].to_tensor().numpy())
    np.testing.assert_array_equal(positions.numpy(), again[1].numpy())
    np.testing.assert_array_equal(labels.numpy(), again[2].numpy())
    assert not np.array_equal(positions.numpy(), other[1].numpy())
    original = ids.to_tensor(shape=[None, SEQ]).numpy()
    masked = masked.to_tensor(shape=[None, SEQ]).numpy()
    rows = np.arange(len(original))[:, None]
    picked = np.zeros_like(original, bool)
    real = labels.numpy() > 0
    picked[np.broadcast_to(rows, real.shape)[real], positions.numpy()[real]] = True
    maskable = original >= 5
    np.testing.assert_array_equal(picked.sum(1), np.ceil(maskable.sum(1) * 0.15))
    assert (masked[picked] == MASK_ID).mean() == pytest.approx(0.8, abs=0.03)
    assert (masked[picked] == original[picked]).mean() == pytest.approx(0.1, abs=0.03)
    # rows of the same length are not masked at the same places
    same_length = [r for r in range(len(original)) if maskable[r].sum() == maskable[0].sum()]
    assert len({tuple(np.flatnonzero(picked[r])) for r in same_length}) == len(same_length)


def test_mlm_batches_mask_anew_every_pass_and_reproducibly_from_the_seed():
    texts = tf.data.Dataset.from_tensor_slices(
        [" ".join(str(10 + (i * 7 + n) % 90) for i in range(40)) for n in range(48)]
    )

    def two_passes(seed):
        batches = masked_lm_batches.make_mlm_batches(
            texts, _IdsTokenizer(), seq_len=SEQ, batch_size=16, shuffle=48, seed=seed
        )
        return [labels.numpy() for _, labels in batches.repeat(2)]

    first = two_passes(5)
    assert all(np.array_equal(a, b) for a, b in zip(first, two_passes(5), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, two_passes(6), strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first[:3], first[3:], strict=True))


def test_shuffled_batches_hold_texts_of_similar_length_each_once():
    rng = np.random.default_rng(0)
    texts = [" ".join(["w"] * int(n)) for n in rng.integers(1, 60, size=1000)]
    data = tf.data.Dataset.from_tensor_slices((texts, np.arange(1000)))
    batched = masked_lm_batches.similar_lengths(data.shuffle(1000, seed=1), 16, seed=1)
    assert int(batched.cardinality()) == 63 == int(data.batch(16).cardinality())
    batches = list(batched.as_numpy_iterator())
    assert len(batches) == 63
    assert sorted(i for _, ids in batches for i in ids) == list(range(1000))
    lengths = [np.array([len(t) for t in texts]) for texts, _ in batches]
    padded = sum(len(row) * row.max() for row in lengths)
    assert padded < 1.15 * sum(row.sum() for row in lengths)  # random batches: about 1.8x
    again = list(masked_lm_batches.similar_lengths(data.shuffle(1000, seed=1), 16, seed=1))
    assert [list(ids) for _, ids in again] == [list(ids) for _, ids in batches]
    # strings alone, as the masked-LM batches give them
    alone = masked_lm_batches.similar_lengths(tf.data.Dataset.from_tensor_slices(texts), 16, seed=1)
    assert sum(len(batch) for batch in alone.as_numpy_iterator()) == 1000


def test_pair_batches_carry_segment_ids_and_group_pairs_by_their_joint_length():
    from tf_transformer.text import WordPieceTokenizer

    tokenizer = WordPieceTokenizer.train(["a b c d e f"] * 20, vocab_size=40)
    rng = np.random.default_rng(0)
    firsts = [" ".join(["a"] * int(n)) for n in rng.integers(1, 20, 200)]
    seconds = [" ".join(["b"] * int(n)) for n in rng.integers(0, 20, 200)]
    data = tf.data.Dataset.from_tensor_slices(((firsts, seconds), np.arange(200)))
    batches = list(
        masked_lm_batches.make_classification_batches(data, tokenizer, 24, 16, shuffle=200, seed=0)
    )
    assert sorted(int(i) for _, labels in batches for i in labels) == list(range(200))
    for inputs, labels in batches:
        ids, segments = inputs["token_ids"].numpy(), inputs["segment_ids"].numpy()
        assert ids.shape == segments.shape and ids.shape[1] <= 24
        for row, label in zip(ids, labels.numpy(), strict=True):
            a, b = firsts[label].split(), seconds[label].split()
            real = row[row != PAD_ID]
            assert real[0] == START_ID and list(real).count(END_ID) == 2 and real[-1] == END_ID
            cut = list(real).index(END_ID)  # the first text's end
            kept_a, kept_b = cut - 1, len(real) - cut - 2
            assert kept_a + kept_b == min(len(a) + len(b), 21)
        expected = (np.arange(ids.shape[1])[None] > np.argmax(ids == END_ID, 1)[:, None]) & (
            ids != PAD_ID
        )
        assert (segments == expected).all()  # 1 after the first [END], 0 before and at padding
