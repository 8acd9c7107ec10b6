"""A word's own features for a tagger: an embedding of the word and a character CNN of its
spelling (Ma and Hovy 2016), beside what the encoder reads of it.

A small encoder sees a word as pieces of a subword vocabulary; a BiLSTM tagger of the
kind that long led named-entity benchmarks sees it whole, as a word vector learned from
the task's text and a convolution over its characters (capitals, digits, suffixes). This
layer gives a tagger both; `text.word_features.WordFeatures` makes the ids.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tf_transformer")
class WordCharacterEmbedding(keras.layers.Layer):
    """`call(word_ids (batch, length), char_ids (batch, length, characters))` -> float32
    `(batch, length, word_dim + filters)`: the word's embedding and the maximum over its
    characters of a convolution (width `kernel_size`, tanh) of their embeddings, then
    dropout. A position whose word id is 0 (no word starts there: padding, the frame, a
    word's later pieces) gets zeros.

    Example:
    ```python
    import numpy as np
    from tf_transformer.layers.word_embedding import WordCharacterEmbedding
    layer = WordCharacterEmbedding(word_vocab_size=10, char_vocab_size=8)
    layer(np.ones((2, 5), "int32"), np.ones((2, 5, 20), "int32")).shape  # (2, 5, 130)
    ```
    """

    def __init__(
        self,
        word_vocab_size,
        char_vocab_size,
        word_dim=100,
        char_dim=30,
        filters=30,
        kernel_size=3,
        dropout=0.5,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.word_vocab_size, self.char_vocab_size = word_vocab_size, char_vocab_size
        self.word_dim, self.char_dim = word_dim, char_dim
        self.filters, self.kernel_size, self.dropout = filters, kernel_size, dropout
        self.words = keras.layers.Embedding(word_vocab_size, word_dim, dtype=self.dtype_policy)
        self.chars = keras.layers.Embedding(char_vocab_size, char_dim, dtype=self.dtype_policy)
        self.convolution = keras.layers.Conv1D(
            filters, kernel_size, padding="same", activation="tanh", dtype=self.dtype_policy
        )
        self.drop = keras.layers.Dropout(dropout)

    @property
    def width(self) -> int:
        return self.word_dim + self.filters

    def build(self, word_ids_shape=None, char_ids_shape=None):
        self.words.build((None, None))
        self.chars.build((None, None))
        self.convolution.build((None, None, self.char_dim))
        self.built = True

    def call(self, word_ids, char_ids, training=None):
        batch, length = ops.shape(char_ids)[0], ops.shape(char_ids)[1]
        letters = self.chars(ops.reshape(char_ids, (-1, ops.shape(char_ids)[2])))
        spelling = ops.max(self.convolution(letters), axis=1)  # over each word's characters
        spelling = ops.reshape(spelling, (batch, length, self.filters))
        features = ops.concatenate([self.words(word_ids), spelling], axis=-1)
        starts = ops.cast(ops.not_equal(word_ids, 0), features.dtype)[..., None]
        return self.drop(features, training=training) * starts

    def compute_output_shape(self, word_ids_shape, char_ids_shape=None):
        return (*word_ids_shape, self.width)

    def get_config(self):
        return {
            **super().get_config(),
            "word_vocab_size": self.word_vocab_size,
            "char_vocab_size": self.char_vocab_size,
            "word_dim": self.word_dim,
            "char_dim": self.char_dim,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dropout": self.dropout,
        }
