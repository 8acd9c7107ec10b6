"""Hugging Face checkpoint directories (config.json + model.safetensors) into `GPT` and
`BertEncoder`. No checkpoint can be downloaded here, so the test writes one in Hugging
Face's layout (its tensor names, Conv1D and Linear orientations) from a random KerasHub
backbone, and the converted model must give that backbone's outputs."""

import json
import math

import keras
import keras_hub
import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.models.keras_hub_oracle import (
    SIZE,
    VOCAB,
    assert_bert_outputs_close,
    assert_real_positions_close,
    padded_batch,
    randomized,
)
from tf_transformer.errors import InputError
from tf_transformer.models.hugging_face import (
    bert_from_hugging_face,
    gpt_from_hugging_face,
    read_bert,
)

D, HEADS, LAYERS, DFF = (
    SIZE[k] for k in ("hidden_dim", "num_heads", "num_layers", "intermediate_dim")
)
POSITIONS = 40


def weights_of(hub):
    return {v.path: keras.ops.convert_to_numpy(v) for v in randomized(hub).weights}, hub


def write(directory, config, tensors):
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    save_file(
        {k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()},
        str(directory / "model.safetensors"),
    )
    return str(directory)


def gpt2_checkpoint(w):
    """GPT-2's names; Conv1D weights are input x output, q/k/v side by side in c_attn."""
    tensors = {
        "wte.weight": w["token_embedding/embeddings"],
        "wpe.weight": w["position_embedding/embeddings"],
        "ln_f.weight": w["layer_norm/gamma"],
        "ln_f.bias": w["layer_norm/beta"],
    }
    for i in range(LAYERS):
        k, h = f"transformer_layer_{i}/", f"h.{i}."
        a = k + "self_attention/"
        tensors[h + "attn.c_attn.weight"] = np.concatenate(
            [w[f"{a}{n}/kernel"].reshape(D, D) for n in ("query", "key", "value")], axis=1
        )
        tensors[h + "attn.c_attn.bias"] = np.concatenate(
            [w[f"{a}{n}/bias"].reshape(D) for n in ("query", "key", "value")]
        )
        tensors[h + "attn.c_proj.weight"] = w[a + "attention_output/kernel"].reshape(D, D)
        tensors[h + "attn.c_proj.bias"] = w[a + "attention_output/bias"]
        tensors[h + "attn.bias"] = np.tril(np.ones((1, 1, POSITIONS, POSITIONS)))  # a buffer
        for ln, theirs in (
            ("ln_1", "self_attention_layer_norm"),
            ("ln_2", "feedforward_layer_norm"),
        ):
            tensors[f"{h}{ln}.weight"], tensors[f"{h}{ln}.bias"] = (
                w[f"{k}{theirs}/gamma"],
                w[f"{k}{theirs}/beta"],
            )
        for conv, theirs in (("c_fc", "intermediate"), ("c_proj", "output")):
            tensors[f"{h}mlp.{conv}.weight"] = w[f"{k}feedforward_{theirs}_dense/kernel"]
            tensors[f"{h}mlp.{conv}.bias"] = w[f"{k}feedforward_{theirs}_dense/bias"]
    return {f"transformer.{k}": v for k, v in tensors.items()} | {
        "lm_head.weight": tensors["wte.weight"]
    }


GPT2_CONFIG = {
    "model_type": "gpt2",
    "n_embd": D,
    "n_head": HEADS,
    "n_layer": LAYERS,
    "n_inner": DFF,
    "vocab_size": VOCAB,
    "n_positions": POSITIONS,
    "layer_norm_epsilon": 1e-5,
    "activation_function": "gelu_new",
    "resid_pdrop": 0.0,
}


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    keras.utils.set_random_seed(3)
    weights, hub = weights_of(
        keras_hub.models.GPT2Backbone(**SIZE, max_sequence_length=POSITIONS, dropout=0.0)
    )
    path = write(tmp_path_factory.mktemp("hf") / "gpt2", GPT2_CONFIG, gpt2_checkpoint(weights))
    return path, hub, weights


def test_a_gpt2_checkpoint_gives_the_same_logits(gpt2):
    path, hub, _ = gpt2
    ids, mask, lengths = padded_batch(1)
    expected = hub.token_embedding(hub({"token_ids": ids, "padding_mask": mask}), reverse=True)
    model = gpt_from_hugging_face(path)
    assert model.activation == "gelu_tanh" and model.count_params() == hub.count_params()
    assert_real_positions_close(model(ids, padding_mask=mask), expected, lengths)


def test_bad_checkpoints_are_one_line_errors(gpt2, tmp_path):
    _, _, weights = gpt2
    tensors = gpt2_checkpoint(weights)
    cases = [
        (
            GPT2_CONFIG,
            {k: v for k, v in tensors.items() if k != "transformer.h.1.ln_2.bias"},
            "GPT-2 checkpoint has no tensor h.1.ln_2.bias$",
        ),
        (
            {**GPT2_CONFIG, "n_inner": 128},
            tensors,
            r"tensor h.0.mlp.c_fc.weight has shape \(64, 96\), expected \(64, 128\)",
        ),
        (
            GPT2_CONFIG,
            {**tensors, "transformer.h.0.extra": np.ones(3)},
            "a tensor the model does not use: h.0.extra",
        ),
        ({**GPT2_CONFIG, "model_type": "llama"}, tensors, "a 'llama' checkpoint, expected 'gpt2'"),
    ]
    for number, (config, case, message) in enumerate(cases):
        with pytest.raises(InputError, match=message) as error:
            gpt_from_hugging_face(write(tmp_path / str(number), config, case))
        assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="config.json: no such file"):
        gpt_from_hugging_face(str(tmp_path))


def bert_checkpoint():
    """A random KerasHub `BertBackbone`, and its tensors and config in Hugging Face's
    layout (`bert.*` names, `Linear` weights as output x input)."""
    keras.utils.set_random_seed(4)
    w, hub = weights_of(
        keras_hub.models.BertBackbone(**SIZE, max_sequence_length=POSITIONS, dropout=0.0)
    )
    linear = lambda kernel, inputs: kernel.reshape(inputs, -1).T  # noqa: E731 (Linear: out x in)
    t = {
        "embeddings.word_embeddings.weight": w["token_embedding/embeddings"],
        "embeddings.position_embeddings.weight": w["position_embedding/embeddings"],
        "embeddings.token_type_embeddings.weight": w["segment_embedding/embeddings"],
        "embeddings.LayerNorm.gamma": w["embeddings_layer_norm/gamma"],  # the older names
        "embeddings.LayerNorm.beta": w["embeddings_layer_norm/beta"],
        "embeddings.position_ids": np.arange(POSITIONS)[None],  # a buffer
        "pooler.dense.weight": linear(w["pooled_dense/kernel"], D),
        "pooler.dense.bias": w["pooled_dense/bias"],
    }
    for i in range(LAYERS):
        k, h = f"transformer_layer_{i}/", f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            t[f"{h}attention.self.{n}.weight"] = linear(w[f"{k}self_attention_layer/{n}/kernel"], D)
            t[f"{h}attention.self.{n}.bias"] = w[f"{k}self_attention_layer/{n}/bias"].reshape(D)
        t[h + "attention.output.dense.weight"] = linear(
            w[k + "self_attention_layer/attention_output/kernel"], D
        )
        t[h + "attention.output.dense.bias"] = w[k + "self_attention_layer/attention_output/bias"]
        for hf, theirs in (
            ("attention.output.LayerNorm", "self_attention_layer_norm"),
            ("output.LayerNorm", "feedforward_layer_norm"),
        ):
            t[f"{h}{hf}.weight"], t[f"{h}{hf}.bias"] = (
                w[f"{k}{theirs}/gamma"],
                w[f"{k}{theirs}/beta"],
            )
        for hf, theirs, inputs in (("intermediate", "intermediate", D), ("output", "output", DFF)):
            t[f"{h}{hf}.dense.weight"] = linear(w[f"{k}feedforward_{theirs}_dense/kernel"], inputs)
            t[f"{h}{hf}.dense.bias"] = w[f"{k}feedforward_{theirs}_dense/bias"]
    tensors = {f"bert.{k}": v for k, v in t.items()}
    config = {
        "model_type": "bert",
        "hidden_size": D,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": DFF,
        "vocab_size": VOCAB,
        "max_position_embeddings": POSITIONS,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu_new",
        "hidden_dropout_prob": 0.0,
    }
    return tensors, config, hub


def test_a_bert_checkpoint_gives_the_same_sequence_and_pooled_outputs(tmp_path):
    tensors, config, hub = bert_checkpoint()
    tensors["cls.predictions.bias"] = np.zeros(VOCAB)  # a head's part alone: left out
    encoder = bert_from_hugging_face(write(tmp_path / "bert", config, tensors))
    assert_bert_outputs_close(encoder, hub, seed=2)
    assert read_bert(str(tmp_path / "bert"))[1] is None


def test_a_bert_checkpoint_with_its_masked_lm_head_gives_its_logits(tmp_path):
    tensors, config, _ = bert_checkpoint()
    rng = np.random.default_rng(5)
    head = {
        "transform.dense.weight": rng.normal(0, 0.3, (D, D)),  # Linear: output x input
        "transform.dense.bias": rng.normal(0, 0.3, D),
        "transform.LayerNorm.weight": rng.normal(1, 0.3, D),
        "transform.LayerNorm.bias": rng.normal(0, 0.3, D),
        "bias": rng.normal(0, 0.3, VOCAB),
        "decoder.weight": tensors["bert.embeddings.word_embeddings.weight"],  # tied
    }
    head["decoder.bias"] = head["bias"]
    tensors |= {f"cls.predictions.{k}": v for k, v in head.items()}
    tensors["cls.seq_relationship.weight"] = rng.normal(0, 0.3, (2, D))  # next-sentence: left out
    config["hidden_act"] = "gelu"  # the head's transform is BERT's exact GELU
    encoder, masked_lm = read_bert(write(tmp_path / "bert", config, tensors))
    ids, mask, lengths = padded_batch(seed=3)
    hidden = keras.ops.convert_to_numpy(encoder(ids))  # id 0 pads, as BertMaskedLM masks
    x = hidden @ head["transform.dense.weight"].T + head["transform.dense.bias"]
    x = 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-12)
    x = x * head["transform.LayerNorm.weight"] + head["transform.LayerNorm.bias"]
    expected = x @ head["decoder.weight"].T + head["bias"]
    logits = masked_lm({"token_ids": ids})
    assert_real_positions_close(logits, expected, lengths, atol=1e-4)

    tensors["cls.predictions.decoder.weight"] = rng.normal(0, 0.3, (VOCAB, D))
    with pytest.raises(InputError, match="decoder.weight is not the word embeddings"):
        read_bert(write(tmp_path / "untied", config, tensors))
