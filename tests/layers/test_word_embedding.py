"""A word's own features: the word's embedding and the maximum over its characters of a
convolution, exactly; zeros where no word starts; a round trip through its config."""

import keras
import numpy as np

from tf_transformer.layers.word_embedding import WordCharacterEmbedding


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_features_are_the_words_vector_and_its_spelling_convolved_and_maxed():
    layer = WordCharacterEmbedding(12, 9, word_dim=4, char_dim=3, filters=5, kernel_size=3)
    rng = np.random.default_rng(0)
    word_ids = np.array([[0, 3, 0, 7], [5, 0, 0, 0]], "int32")
    char_ids = rng.integers(0, 9, size=(2, 4, 6)).astype("int32")
    out = numpy(layer(word_ids, char_ids))
    assert out.shape == (2, 4, 9) and out.dtype == np.float32
    words = numpy(layer.words.embeddings)
    letters = numpy(layer.chars.embeddings)
    kernel, bias = (numpy(w) for w in layer.convolution.weights)  # (3, 3, 5), (5,)
    for b, p in [(0, 1), (0, 3), (1, 0)]:
        x = np.pad(letters[char_ids[b, p]], [[1, 1], [0, 0]])  # "same": one each side
        conv = [np.tanh(np.einsum("kc,kcf->f", x[i : i + 3], kernel) + bias) for i in range(6)]
        expected = np.concatenate([words[word_ids[b, p]], np.max(conv, axis=0)])
        np.testing.assert_allclose(out[b, p], expected, atol=1e-5)
    assert (out[word_ids == 0] == 0).all()  # no word starts there: nothing
    assert (numpy(layer(word_ids, char_ids, training=True))[word_ids == 0] == 0).all()


def test_a_layer_from_its_config_computes_the_same_with_the_same_weights():
    layer = WordCharacterEmbedding(10, 8, word_dim=6, dropout=0.2)
    word_ids, char_ids = np.ones((1, 3), "int32"), np.full((1, 3, 20), 2, "int32")
    out = numpy(layer(word_ids, char_ids))
    copy = WordCharacterEmbedding.from_config(layer.get_config())
    copy.build()
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(numpy(copy(word_ids, char_ids)), out)
    assert copy.width == 36 and layer.compute_output_shape((1, 3)) == (1, 3, 36)
