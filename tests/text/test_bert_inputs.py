import os

import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.text import (
    END_ID,
    MASK_ID,
    START_ID,
    UNK_ID,
    BertVocabTokenizer,
    WordPieceTokenizer,
    bert_inputs,
)
from tf_transformer.text.word_features import WordFeatures


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
    ids, labels = ids.numpy(), labels.numpy()
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


def test_word_features_are_placed_at_each_words_first_piece_in_its_window(tokenizer):
    texts = [["the", "cats", "Sat"], [], ["dogs", "ü", "mat"] * 3]
    words = tf.ragged.constant(texts)
    features = WordFeatures.from_words(["the", "cats", "the", "mat"])
    inputs, window, position = bert_inputs.tagger_inputs(tokenizer, words, 7, features)
    plain, _, _ = bert_inputs.tagger_inputs(tokenizer, words, 7)
    np.testing.assert_array_equal(inputs["token_ids"], plain)  # the same windows
    expected_words = np.zeros(plain.shape, "int32")
    expected_chars = np.zeros((*plain.shape, features.max_characters), "int32")
    for text, windows, positions in zip(texts, window.to_list(), position.to_list(), strict=True):
        for word, w, p in zip(text, windows, positions, strict=True):
            word_id, char_ids = features.lookup(tf.constant([word]))
            expected_words[w, p], expected_chars[w, p] = word_id[0], char_ids[0]
    np.testing.assert_array_equal(inputs["word_ids"], expected_words)
    np.testing.assert_array_equal(inputs["char_ids"], expected_chars)
    assert (inputs["word_ids"].numpy() > 0).sum() == 12  # every word, known or not, somewhere
    assert plain.shape[0] > 2  # the long text took several windows
    _, labels = bert_inputs.word_labels(
        tokenizer, words, tf.ragged.constant([[0, 1, 2], [], [1] * 9]), 7, features
    )
    np.testing.assert_array_equal(labels.numpy() > 0, inputs["word_ids"].numpy() > 0)


def test_pairs_are_framed_with_segment_ids_and_cut_longest_first(tokenizer):
    texts = tf.constant(["the cat sat on the mat", "", "a dog", "the cat", "<b>cats</b>"])
    pairs = tf.constant(["a dog", "cats", "", "a dog sat down on the mat", "and <i>dogs</i>"])
    ids, segments = bert_inputs.encode_pairs(tokenizer, texts, pairs, 8, markup=False)
    rows = tokens(tokenizer, ids)
    assert rows[0] == ["[START]", "the", "cat", "sat", "[END]", "a", "dog", "[END]"]
    assert segments.to_list()[0] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert rows[1] == ["[START]", "[END]", "cats", "[END]"] and segments.to_list()[1] == [
        0,
        0,
        1,
        1,
    ]
    assert rows[2] == ["[START]", "a", "dog", "[END]", "[END]"]  # an empty second text
    assert segments.to_list()[2] == [0, 0, 0, 0, 1]
    # the longer text loses pieces first: 2 + 6 pieces into 5 keeps 2 + 3
    assert rows[3] == ["[START]", "the", "cat", "[END]", "a", "dog", "sat", "[END]"]
    assert rows[4] == ["[START]", "cats", "[END]", "and", "dogs", "[END]"]  # markup stripped
    assert max(len(row) for row in rows) <= 8


BERT_VOCAB = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "vocab", "bert-base-uncased"
)


@pytest.mark.skipif(
    not os.path.isdir(BERT_VOCAB), reason="the published bert-base-uncased vocab.txt is absent"
)
def test_pairs_give_hugging_faces_ids_and_token_types_on_bert_base_uncased():
    """`tokenizers` (the reference) encodes pairs with `longest_first` truncation as BERT's
    `create_pretraining_data` and `run_classifier` do; ours must give the same ids and
    segment ids at every length, ties included."""
    tokenizers = pytest.importorskip("tokenizers")
    path = os.path.join(BERT_VOCAB, "vocab.txt")
    ours = BertVocabTokenizer.from_file(path, lowercase=True)
    theirs = tokenizers.BertWordPieceTokenizer(path, lowercase=True)
    rng = np.random.default_rng(0)
    words = "the quick brown fox jumped over lazy dogs unbelievably 1984 , . Zürich ?".split()
    texts = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(60)]
    pairs = [" ".join(rng.choice(words, rng.integers(0, 12))) for _ in range(60)]
    for seq_len in (5, 9, 16, 40):
        theirs.enable_truncation(seq_len, strategy="longest_first")
        ids, segments = bert_inputs.encode_pairs(
            ours, tf.constant(texts), tf.constant(pairs), seq_len
        )
        for row, (text, pair) in enumerate(zip(texts, pairs, strict=True)):
            expected = theirs.encode(text, pair)
            assert ids[row].numpy().tolist() == expected.ids, (seq_len, text, pair)
            assert segments[row].numpy().tolist() == expected.type_ids
