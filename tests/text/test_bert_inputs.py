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


def test_words_map_to_their_first_piece_and_the_cut_drops_words(tokenizer):
    words = tf.ragged.constant([["the", "cats", "sat"], [], ["dogs", "ü", "mat", "the", "cat"]])
    ids, starts = bert_inputs.encode_words(tokenizer, words, 6)
    ids = ids.to_list()
    assert [len(row) for row in ids] == [
        2 + sum(len(w) for w in pieces)
        for pieces in [
            [tokenizer.tokenize([w])[0].numpy() for w in ["the", "cats", "sat"]],
            [],
            [[0], [0], [0], [0]],  # cut to 4 pieces
        ]
    ]
    starts = starts.to_list()
    for row, row_starts in zip(ids, starts, strict=True):
        for start in row_starts:
            assert start == -1 or 0 < start < len(row) - 1
    assert ids[2][2] == UNK_ID  # a piece the vocabulary cannot spell
    assert starts[2] == [1, 2, 3, 4, -1]  # the fifth word is past the cut


def test_word_labels_mark_first_pieces_with_tag_plus_one(tokenizer):
    words = tf.ragged.constant([["the", "cats"], ["dogs", "sat", "mat"]])
    tags = tf.ragged.constant([[0, 2], [1, 0, 3]])
    ids, labels = bert_inputs.word_labels(tokenizer, words, tags, 5)
    ids, labels = ids.to_tensor().numpy(), labels.numpy()
    assert labels.shape == ids.shape
    _, starts = bert_inputs.encode_words(tokenizer, words, 5)
    for row, (row_starts, row_tags) in enumerate(
        zip(starts.to_list(), tags.to_list(), strict=True)
    ):
        expected = np.zeros(ids.shape[1], "int32")
        for start, tag in zip(row_starts, row_tags, strict=True):
            if start >= 0:
                expected[start] = tag + 1
        np.testing.assert_array_equal(labels[row], expected)
    assert labels[:, 0].tolist() == [0, 0]  # [START] carries no label
