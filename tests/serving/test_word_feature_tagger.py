"""A tagger that reads each word's own features: served in process and from its export
with the same features looked up in the graph, and refused without them."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.models import BertTokenTagger
from tf_transformer.serving.bert import TokenTagger, export_predictor
from tf_transformer.serving.entities import split_words
from tf_transformer.text import WordPieceTokenizer
from tf_transformer.text.word_features import WordFeatures

LABELS = ["", "O", "B-LOC", "I-LOC"]
TEXTS = ["Anna flew to New York", "", "Zürich and Oslo", " ".join(["Lyon is far ."] * 6)]


@pytest.fixture(scope="module")
def tagger():
    keras.utils.set_random_seed(4)
    tokenizer = WordPieceTokenizer.train(TEXTS * 5, vocab_size=60)
    features = WordFeatures.from_words(TEXTS[0].split() + ["Oslo"])
    model = BertTokenTagger.from_preset(
        "bert_tiny", num_tags=len(LABELS), labels=LABELS, vocab_size=tokenizer.vocab_size,
        num_layers=1, d_model=16, num_heads=2, dff=32, max_length=64, head="lstm",
        word_features=features.sizes,
    )  # fmt: skip
    return TokenTagger(model, tokenizer, seq_len=16, features=features)


def test_a_word_is_read_with_its_own_ids_at_its_first_piece(tagger):
    _, probabilities = tagger.word_probabilities(tf.constant(["Oslo", "Zürich"]))
    for row, word in enumerate(["Oslo", "Zürich"]):
        pieces = tagger.tokenizer.tokenize(tf.constant([word]))[0].numpy()
        token_ids = np.array([[tagger.tokenizer.start_id, *pieces, tagger.tokenizer.end_id]])
        word_ids = np.zeros(token_ids.shape, "int32")
        char_ids = np.zeros((*token_ids.shape, 20), "int32")
        found = tagger.features.lookup(tf.constant([word]))
        word_ids[0, 1], char_ids[0, 1] = found[0][0], found[1][0]
        inputs = {"token_ids": token_ids, "word_ids": word_ids, "char_ids": char_ids}
        expected = tf.nn.softmax(tagger.model(inputs)[0, 1, 1:]).numpy()
        np.testing.assert_allclose(probabilities[row][0], expected, atol=1e-5)
    assert word_ids[0, 1] == 1  # Zürich: not in the training text's words, unknown
    _, probabilities = tagger.word_probabilities(tf.constant(TEXTS))
    assert [len(p) for p in probabilities] == [5, 0, 3, 24]  # the long text in windows


def test_the_served_probabilities_are_the_models_at_each_words_first_piece(tagger):
    texts = tf.constant(TEXTS)
    words, _, _ = split_words(texts)
    inputs, window, position = tagger.inputs(words)
    logits = tagger.model(inputs)
    index = np.stack([window.flat_values, position.flat_values], 1)
    expected = tf.nn.softmax(tf.gather_nd(logits, index)[:, 1:]).numpy()
    _, probabilities = tagger.word_probabilities(texts)
    np.testing.assert_allclose(probabilities.flat_values, expected, atol=1e-5)


@pytest.mark.slow  # an export: seconds the fast suite cannot spare (the recipe's too)
def test_the_export_serves_the_same_tags_and_carries_the_features(tagger, tmp_path):
    path = export_predictor(tagger, str(tmp_path / "tagger"))
    assert os.path.isfile(os.path.join(path, "assets", "tagger_word_features.json"))
    served = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(TEXTS))
    here = tagger.predict(TEXTS)
    for name in ("tokens", "tags", "entity_types", "entity_starts"):
        np.testing.assert_array_equal(served[name].numpy(), here[name])


def test_a_tagger_and_its_features_go_together(tagger):
    with pytest.raises(ValueError, match="needs them"):
        TokenTagger(tagger.model, tagger.tokenizer, seq_len=16)
    plain = BertTokenTagger.from_preset(
        "bert_tiny", num_tags=4, vocab_size=60, num_layers=1, d_model=16, num_heads=2, dff=32
    )
    with pytest.raises(ValueError, match="needs them"):
        TokenTagger(plain, tagger.tokenizer, seq_len=16, features=tagger.features)
