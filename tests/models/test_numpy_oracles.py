"""Hugging Face checkpoints against NumPy forward passes (`numpy_reference`) that share
nothing with the converters: random tensors under the published names go in, and the
imported model must compute what the papers' equations compute on them."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import save_file

from tests.models.numpy_reference import (
    bert_outputs,
    gpt2_logits,
    random_bert,
    random_gpt2,
)
from tf_transformer.models.hugging_face import gpt_from_hugging_face, read_bert
from tf_transformer.text import BertVocabTokenizer
from tf_transformer.text.bert_inputs import encode_pairs

GPT2 = {
    "model_type": "gpt2",
    "vocab_size": 97,
    "n_embd": 32,
    "n_head": 4,
    "n_layer": 2,
    "n_inner": 64,
    "n_positions": 24,
    "layer_norm_epsilon": 1e-5,
    "activation_function": "gelu_new",
}
BERT = {
    "model_type": "bert",
    "vocab_size": 83,
    "hidden_size": 32,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "intermediate_size": 48,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "hidden_act": "gelu",
}


def folder(path, config, tensors):
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    save_file(tensors, str(path / "model.safetensors"))
    return str(path)


@pytest.mark.parametrize("activation", ["gelu_new", "gelu_pytorch_tanh", "gelu", "relu"])
def test_gpt2_in_the_published_layout_computes_the_papers_logits(tmp_path, activation):
    """`gpt2`'s own files: no `transformer.` prefix and no `lm_head.weight`."""
    config = {**GPT2, "activation_function": activation}
    tensors = random_gpt2(np.random.default_rng(1), config)
    model = gpt_from_hugging_face(folder(tmp_path / "gpt2", config, tensors))
    ids = np.random.default_rng(2).integers(0, config["vocab_size"], 17)
    expected = gpt2_logits(tensors, config, ids)
    got = keras.ops.convert_to_numpy(model(ids[None]))[0]
    np.testing.assert_allclose(got, expected, atol=2e-3 * np.abs(expected).max())
    assert (got.argmax(-1) == expected.argmax(-1)).all()


@pytest.mark.parametrize("activation", ["gelu", "gelu_new", "relu"])
def test_bert_with_its_head_computes_the_papers_outputs(tmp_path, activation):
    """The encoder, the pooler, and the masked-LM head whose transform follows the
    checkpoint's `hidden_act`."""
    config = {**BERT, "hidden_act": activation}
    tensors = random_bert(np.random.default_rng(3), config)
    encoder, masked_lm = read_bert(folder(tmp_path / "bert", config, tensors))
    ids = np.random.default_rng(4).integers(1, config["vocab_size"], 13)
    sequence, pooled, logits = bert_outputs(tensors, config, ids)
    hidden = keras.ops.convert_to_numpy(encoder(ids[None]))[0]
    np.testing.assert_allclose(hidden, sequence, atol=1e-4)
    pool = keras.ops.convert_to_numpy(encoder.pool(hidden[None]))[0]
    np.testing.assert_allclose(pool, pooled, atol=1e-4)
    got = keras.ops.convert_to_numpy(masked_lm({"token_ids": ids[None]}))[0]
    np.testing.assert_allclose(got, logits, atol=2e-4 * np.abs(logits).max())
    assert masked_lm.head.activation == encoder.activation


def test_bert_reads_a_pair_with_its_trained_segment_table(tmp_path):
    """`[CLS] a [SEP] b [SEP]` as `encode_pairs` builds it, segment ids 0 then 1: the
    imported encoder and pooler compute what the equations compute with the checkpoint's
    token-type table, and the second segment's row changes the answer."""
    config = dict(BERT)
    tensors = random_bert(np.random.default_rng(5), config)
    encoder, _ = read_bert(folder(tmp_path / "bert", config, tensors))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "##s"]
    tokenizer = BertVocabTokenizer(vocab + [f"w{i}" for i in range(config["vocab_size"] - 10)])
    ids, segments = encode_pairs(tokenizer, tf.constant(["a b cs"]), tf.constant(["d c"]), 16)
    ids, segments = ids[0].numpy(), segments[0].numpy()
    assert segments.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    sequence, pooled, _ = bert_outputs(tensors, config, ids, segments)
    hidden = encoder(ids[None], segment_ids=segments[None])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(hidden)[0], sequence, atol=1e-4)
    pool = keras.ops.convert_to_numpy(encoder.pool(hidden))[0]
    np.testing.assert_allclose(pool, pooled, atol=1e-4)
    one_segment, _, _ = bert_outputs(tensors, config, ids)
    assert np.abs(one_segment - sequence).max() > 0.1  # the table matters
