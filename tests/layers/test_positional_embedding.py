import math

import keras
import numpy as np
import pytest

from tests.layer_harness import run_layer_test
from tf_transformer.layers import PositionalEmbedding, positional_encoding


def test_positional_encoding_matches_the_paper_formula_element_by_element():
    length, depth = 50, 12
    table = keras.ops.convert_to_numpy(positional_encoding(length, depth))
    assert table.shape == (length, depth)
    for pos in range(length):
        for dim in range(depth):
            angle = pos / 10000 ** ((2 * (dim // 2)) / depth)
            expected = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
            assert table[pos, dim] == pytest.approx(expected, abs=1e-5), (pos, dim)


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_positional_embedding_layer(tmp_path, position):
    ids = np.array([[3, 9, 4, 0], [7, 1, 0, 0]], "int32")
    run_layer_test(
        tmp_path,
        PositionalEmbedding,
        dict(vocab_size=12, d_model=8, max_length=16, position=position),
        {"token_ids": ids},
        (2, 4, 8),
    )


def test_learned_tables_are_drawn_apart_from_one_unseeded_initializer():
    # An unseeded Keras initializer returns the same numbers each call: shared by both
    # tables, it would give position i the vector of token i.
    layer = PositionalEmbedding(
        vocab_size=40,
        d_model=8,
        max_length=16,
        position="learned",
        embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
    )
    layer.build((None, None))
    tokens = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    positions = keras.ops.convert_to_numpy(layer.position_embedding.embeddings)
    assert not np.allclose(tokens[:16], positions)


def test_scaled_token_embedding_plus_sinusoids():
    layer = PositionalEmbedding(vocab_size=12, d_model=8, max_length=16)
    ids = np.array([[3, 9, 4]], "int32")
    out = keras.ops.convert_to_numpy(layer(ids))
    table = keras.ops.convert_to_numpy(layer.token_embedding.embeddings)
    expected = table[ids[0]] * math.sqrt(8) + keras.ops.convert_to_numpy(positional_encoding(3, 8))
    np.testing.assert_allclose(out[0], expected, atol=1e-6)

    unscaled = PositionalEmbedding(vocab_size=12, d_model=8, scale=False)
    out = keras.ops.convert_to_numpy(unscaled(ids))
    table = keras.ops.convert_to_numpy(unscaled.token_embedding.embeddings)
    expected = table[ids[0]] + keras.ops.convert_to_numpy(positional_encoding(3, 8))
    np.testing.assert_allclose(out[0], expected, atol=1e-6)


@pytest.mark.parametrize("position", ["sinusoidal", "learned"])
def test_start_index_embeds_at_the_true_position(position):
    layer = PositionalEmbedding(vocab_size=12, d_model=8, max_length=16, position=position)
    ids = np.array([[3, 9, 4, 5]], "int32")
    whole = keras.ops.convert_to_numpy(layer(ids))
    for t in range(4):
        step = keras.ops.convert_to_numpy(layer(ids[:, t : t + 1], start_index=t))
        np.testing.assert_allclose(step[:, 0], whole[:, t], atol=1e-6)


def test_unknown_position_kind_is_refused():
    with pytest.raises(ValueError, match="position must be"):
        PositionalEmbedding(vocab_size=12, d_model=8, position="rotary")
