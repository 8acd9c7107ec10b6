import numpy as np
import tensorflow as tf

from tf_transformer.text.word_features import PAD, UNKNOWN, WordFeatures


def test_words_and_characters_by_frequency_with_padding_and_unknown_ids():
    features = WordFeatures.from_words(["in", "Paris", "in", "Köln", "in", "Paris"], max_chars=6)
    assert features.words == ["in", "Paris", "Köln"]  # most frequent first
    assert features.word_vocab_size == 5 and features.char_vocab_size == 8
    word_ids, char_ids = (
        t.numpy() for t in features.lookup(tf.constant(["Paris", "Lyon", "in", ""]))
    )
    np.testing.assert_array_equal(word_ids, [3, UNKNOWN, 2, UNKNOWN])
    ids = {c: i + 2 for i, c in enumerate(features.chars)}
    expected = [ids.get(c, UNKNOWN) for c in "Paris"] + [PAD] * 15
    np.testing.assert_array_equal(char_ids[0], expected)
    assert (char_ids[3] == PAD).all() and char_ids.shape == (4, 20)
    assert len(features.chars) == 6 and features.chars[:2] == ["i", "n"]  # 5 and 3 times


def test_a_long_word_keeps_its_first_characters_and_other_scripts_are_characters():
    features = WordFeatures.from_words(["Ελλάδα", "x" * 30], max_characters=4)
    _, char_ids = features.lookup(tf.constant(["Ελλάδα", "x" * 30, "Ελ"]))
    assert char_ids.shape == (3, 4)
    ids = {c: i + 2 for i, c in enumerate(features.chars)}
    np.testing.assert_array_equal(char_ids[0], [ids[c] for c in "Ελλά"])
    np.testing.assert_array_equal(char_ids[2], [ids["Ε"], ids["λ"], PAD, PAD])


def test_saved_features_load_the_same_and_run_in_a_tf_function(tmp_path):
    features = WordFeatures.from_words("the cat sat on the mat".split())
    features.save(str(tmp_path))
    assert WordFeatures.saved_in(str(tmp_path))
    loaded = WordFeatures.load(str(tmp_path))
    assert (loaded.words, loaded.chars) == (features.words, features.chars)
    words = tf.constant(["mat", "dog", "The"])
    traced = tf.function(loaded.lookup)(words)
    for a, b in zip(traced, features.lookup(words), strict=True):
        np.testing.assert_array_equal(a, b)
