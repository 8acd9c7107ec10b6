"""`capture()`: the residual stream and attention weights of a forward pass, recorded as
the layers run: the model answers the same, the records chain into each other, and each
one is what its sublayer computed (the residual identity, the softmax, the masks)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.layers import capture
from tf_transformer.models import GPT, BertEncoder, Transformer


def ids(rng, rows, length, vocab, pad_from=None):
    values = rng.integers(3, vocab, (rows, length))
    if pad_from is not None:
        values[1, pad_from:] = 0  # the second row is padded
    return values


@pytest.fixture(scope="module")
def translator():
    keras.utils.set_random_seed(0)
    model = Transformer(2, 32, 4, 64, 50, 60, max_length=16, dropout=0.1)
    model.build(((None, None), (None, None)))
    return model


def test_a_captured_pass_answers_as_an_uncaptured_one(translator):
    rng = np.random.default_rng(0)
    inputs = (ids(rng, 2, 9, 50, pad_from=6), ids(rng, 2, 7, 60, pad_from=4))
    plain = keras.ops.convert_to_numpy(translator(inputs, training=False))
    with capture() as seen:
        captured = keras.ops.convert_to_numpy(translator(inputs, training=False))
    np.testing.assert_array_equal(captured, plain)
    kinds = [record.kind for record in seen.records]
    # the encoder's embedding and 2 x (self-attention, feed-forward), then the decoder's
    # embedding and 2 x (causal self-attention, cross-attention, feed-forward)
    encoder = ["PositionalEmbedding"] + ["GlobalSelfAttention", "FeedForward"] * 2
    decoder = ["PositionalEmbedding"] + ["CausalSelfAttention", "CrossAttention", "FeedForward"] * 2
    assert kinds == encoder + decoder
    assert "encoder_layer_1" in seen.records[3].layer


def test_records_chain_and_each_is_its_sublayers_residual(translator):
    rng = np.random.default_rng(1)
    source, target = ids(rng, 2, 9, 50, pad_from=6), ids(rng, 2, 7, 60, pad_from=4)
    with capture() as seen:
        translator((source, target), training=False)
    records = seen.records
    for stack in (records[:5], records[5:]):  # each stack's stream runs through its records
        embedding = stack[0]
        np.testing.assert_allclose(embedding.output, embedding.input + embedding.added, atol=1e-6)
        for before, after in zip(stack, stack[1:], strict=False):
            np.testing.assert_array_equal(after.input, before.output)
    for record, layer in zip(records[1:5], _sublayers(translator.encoder), strict=True):
        # post-norm, as the paper: output = LayerNorm(input + what the sublayer adds)
        expected = layer.layer_norm(tf.constant(record.input + record.added))
        np.testing.assert_allclose(record.output, keras.ops.convert_to_numpy(expected), atol=1e-5)
    # the cross-attention reads the encoder's last output: its keys are the source's
    cross = [r for r in records if r.kind == "CrossAttention"]
    assert cross[0].attention.shape == (2, 4, 7, 9)


def _sublayers(stack):
    for block in stack.blocks:
        yield from [block.self_attention, block.feed_forward]


def test_attention_weights_are_softmaxes_with_masked_places_exactly_zero(translator):
    rng = np.random.default_rng(2)
    source, target = ids(rng, 2, 9, 50, pad_from=6), ids(rng, 2, 7, 60, pad_from=4)
    with capture() as seen:
        translator((source, target), training=False)
    for record in seen.attention():
        np.testing.assert_allclose(record.attention.sum(-1)[0], 1.0, atol=1e-5)  # no padding
    encoder_self = seen.of("GlobalSelfAttention")[0].attention
    assert encoder_self.shape == (2, 4, 9, 9)
    assert np.all(encoder_self[1, :, :, 6:] == 0) and np.all(encoder_self[0] > 0)
    causal = seen.of("CausalSelfAttention")[1].attention
    assert np.all(causal[0][:, np.triu_indices(7, 1)[0], np.triu_indices(7, 1)[1]] == 0)
    cross = seen.of("CrossAttention")[0].attention
    assert np.all(cross[1, :, :, 6:] == 0)  # the source's padding, not attended


def test_gpt_and_bert_record_their_blocks_pre_norm_and_post_norm():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(3)
    gpt = GPT.from_preset("gpt_tiny", vocab_size=40)
    tokens = ids(rng, 2, 6, 40)
    with capture() as seen:
        logits = gpt(tokens, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(logits), gpt(tokens).numpy())
    blocks = [r for r in seen.records if r.kind != "PositionalEmbedding"]
    assert len(blocks) == 2 * gpt.decoder.num_layers
    for record in blocks:  # pre-norm (GPT-2): the stream is input + added, unnormalized
        np.testing.assert_allclose(record.output, record.input + record.added, atol=1e-5)
    bert = BertEncoder.from_preset("bert_tiny", vocab_size=40)
    with capture() as seen:
        bert(tokens)
    kinds = ["PositionalEmbedding"] + ["GlobalSelfAttention", "FeedForward"] * 2
    assert [r.kind for r in seen.records] == kinds  # BERT adds segments and a norm after


def test_nothing_is_kept_outside_the_block_or_inside_a_compiled_function(translator):
    rng = np.random.default_rng(4)
    inputs = (ids(rng, 1, 5, 50), ids(rng, 1, 4, 60))
    translator(inputs, training=False)  # no capture open: nothing to keep, nothing kept
    compiled = tf.function(lambda s, t: translator((s, t), training=False))
    with capture() as seen:
        compiled(*inputs)
    assert seen.records == []
    with capture() as outer:
        with capture() as inner:
            translator(inputs, training=False)
    assert len(inner.records) == 12 and outer.records == []
