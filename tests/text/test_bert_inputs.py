import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.text import END_ID, MASK_ID, START_ID, UNK_ID, WordPieceTokenizer, bert_inputs


@pytest.fixture(scope="module")
def tokenizer():
    texts = ["the cat sat on the mat", "a dog sat down", "cats and dogs"] * 20
    return WordPieceTokenizer.train(texts, vocab_size=80)


def tokens(tokenizer, ids):
    words = tokenizer.lookup(tf.cast(ids.flat_values, tf.int32))
    return [[t.decode() for t in row] for row in ids.with_flat_values(words).to_list()]


def test_texts_are_framed_and_cut(tokenizer):
    ids = bert_inputs.encode_texts(tokenizer, tf.constant(["the cat sat on the mat", ""]), 5)
    assert tokens(tokenizer, ids) == [
        ["[START]", "the", "cat", "sat", "[END]"],
        ["[START]", "[END]"],
    ]


def test_mask_markers_become_the_mask_id(tokenizer):
    texts = tf.constant(["the [MASK] sat [MASK]", "[MASK]", "no marker", "", "[MASK][MASK]"])
    ids = bert_inputs.encode_with_masks(tokenizer, texts, 16).to_list()
    assert tokens(tokenizer, tf.ragged.constant([ids[0]]))[0] == [
        "[START]",
        "the",
        "[MASK]",
        "sat",
        "[MASK]",
        "[END]",
    ]
    assert ids[1] == [START_ID, MASK_ID, END_ID]
    assert MASK_ID not in ids[2]
    assert ids[3] == [START_ID, END_ID]
    assert ids[4] == [START_ID, MASK_ID, MASK_ID, END_ID]


@pytest.mark.parametrize("seq_len", [6, 9, 64])
def test_long_texts_are_read_in_windows_of_whole_words(tokenizer, seq_len):
    texts = [["the", "cats", "sat"], [], ["dogs", "ü", "mat", "the", "cat"] * 4, ["mat"]]
    words = tf.ragged.constant(texts)
    ids, window, position = bert_inputs.encode_words(tokenizer, words, seq_len)
    ids, window, position = ids.to_list(), window.to_list(), position.to_list()
    assert all(len(row) <= seq_len for row in ids)
    assert all(row[0] == tokenizer.start_id and row[-1] == tokenizer.end_id for row in ids)
    used = []
    for text, windows, positions in zip(texts, window, position, strict=True):
        assert len(windows) == len(text)  # every word is read: none is cut off
        assert windows == sorted(windows) and (
            not used or not windows or windows[0] == used[-1] + 1
        )
        used += sorted(set(windows))
        pieces = []
        for word, w, p in zip(text, windows, positions, strict=True):
            first = tokenizer.tokenize([word])[0].numpy().tolist() or [UNK_ID]
            assert ids[w][p] == first[0]  # the word's first piece, in its window
            pieces += first
        inner = [piece for w in sorted(set(windows)) for piece in ids[w][1:-1]]
        assert inner == pieces  # the windows hold the text's pieces, in order, each once
    assert used == list(range(len(ids)))  # the empty text has no window
    assert (len(ids) == 3) == (seq_len == 64)  # one window a text when it fits


def test_word_labels_mark_first_pieces_with_tag_plus_one(tokenizer):
    words = tf.ragged.constant([["the", "cats"], ["dogs", "sat", "mat"]])
    tags = tf.ragged.constant([[0, 2], [1, 0, 3]])
    ids, labels = bert_inputs.word_labels(tokenizer, words, tags, 5)
    ids, labels = ids.to_tensor().numpy(), labels.numpy()
    assert labels.shape == ids.shape
    _, window, position = bert_inputs.encode_words(tokenizer, words, 5)
    expected = np.zeros(ids.shape, "int32")
    for windows, positions, row_tags in zip(
        window.to_list(), position.to_list(), tags.to_list(), strict=True
    ):
        for w, p, tag in zip(windows, positions, row_tags, strict=True):
            expected[w, p] = tag + 1
    np.testing.assert_array_equal(labels, expected)
    assert (labels[:, 0] == 0).all()  # [START] carries no label
    assert (labels > 0).sum() == 5  # every word's tag, though 5 pieces hold only 3 words
