"""Hugging Face checkpoints into `GPT` and `BertEncoder`: a directory with `config.json`
and the weights (as `gpt2` or `bert-base-uncased` publish them: `model.safetensors`,
sharded safetensors or `tf_model.h5`, read by `checkpoint_files` as NumPy arrays under
PyTorch's names, so no PyTorch is needed).

GPT-2 stores its projections as `Conv1D` (input x output, query/key/value side by side in
`c_attn`); BERT as `Linear` (output x input). Both are reshaped into Keras's per-head
kernels. Every tensor is checked: a missing one, one the model does not use, or a shape
that does not fit is a one-line `InputError` naming it.
"""

import numpy as np
from keras import ops

from tf_transformer.errors import InputError
from tf_transformer.models.bert import BertEncoder
from tf_transformer.models.bert_tasks import BertMaskedLM
from tf_transformer.models.checkpoint_files import read_config, read_weights
from tf_transformer.models.convert import Tensors
from tf_transformer.models.gpt import GPT

# Hugging Face's activation names -> ours ("gelu" is the exact erf form there too).
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
}


def read_checkpoint(directory: str):
    """`(config, tensors)` of a Hugging Face checkpoint directory, in any weights layout
    `checkpoint_files` reads."""
    return read_config(directory), read_weights(directory)


def assign(model, values: dict):
    """Sets each weight of `model` from `values`, keyed by its path after the model's name."""
    for variable in model.weights:
        value = values[variable.path.split("/", 1)[1]]
        variable.assign(ops.cast(np.reshape(value, variable.shape), variable.dtype))
    return model


def _activation(config, key, what):
    name = config.get(key, "gelu")
    if name not in ACTIVATIONS:
        raise InputError(
            f"{what} activation {name!r} is not supported; use {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]


def _check_type(config, expected, directory):
    if config.get("model_type") != expected:
        raise InputError(
            f"{directory}: a {config.get('model_type')!r} checkpoint, expected {expected!r}"
        )


def gpt_from_hugging_face(directory: str, dtype=None) -> GPT:
    """A `GPT` from a Hugging Face GPT-2 checkpoint directory (`GPT2LMHeadModel` or
    `GPT2Model`); the output layer is tied to the token embeddings, as GPT-2's."""
    config, tensors = read_checkpoint(directory)
    _check_type(config, "gpt2", directory)
    d, heads, layers = config["n_embd"], config["n_head"], config["n_layer"]
    dff, vocab = config.get("n_inner") or 4 * d, config["vocab_size"]
    model = GPT(
        vocab_size=vocab,
        num_layers=layers,
        d_model=d,
        num_heads=heads,
        dff=dff,
        max_length=config["n_positions"],
        dropout=config.get("resid_pdrop", 0.1),
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
        activation=_activation(config, "activation_function", "GPT-2"),
        dtype=dtype,
    )
    model.build((None, None))
    # the causal-mask buffers are not weights; lm_head is wte (checked below)
    t = Tensors(tensors, "GPT-2", "transformer.", ignore=(".attn.bias", ".attn.masked_bias"))
    head = t.tensors.pop("lm_head.weight", None)
    values = {
        "decoder/embedding/token_embedding/embeddings": t.take("wte.weight", (vocab, d)),
        "decoder/embedding/position_embedding/embeddings": t.take(
            "wpe.weight", (config["n_positions"], d)
        ),
    }
    if head is not None and not np.array_equal(head, values[next(iter(values))]):
        raise InputError("GPT-2 tensor lm_head.weight differs from wte.weight: GPT ties them")
    for i in range(layers):
        hf, ours = f"h.{i}.", f"decoder/decoder_layer_{i}/"
        attention = ours + "self_attention/attention/"
        qkv = t.take(hf + "attn.c_attn.weight", (d, 3 * d))
        qkv_bias = t.take(hf + "attn.c_attn.bias", (3 * d,))
        for j, name in enumerate(("query", "key", "value")):
            values[f"{attention}{name}/kernel"] = qkv[:, j * d : (j + 1) * d]
            values[f"{attention}{name}/bias"] = qkv_bias[j * d : (j + 1) * d]
        values[attention + "attention_output/kernel"] = t.take(hf + "attn.c_proj.weight", (d, d))
        values[attention + "attention_output/bias"] = t.take(hf + "attn.c_proj.bias", (d,))
        for ln, sublayer in (("ln_1", "self_attention"), ("ln_2", "feed_forward")):
            values[f"{ours}{sublayer}/layer_norm/gamma"] = t.take(f"{hf}{ln}.weight", (d,))
            values[f"{ours}{sublayer}/layer_norm/beta"] = t.take(f"{hf}{ln}.bias", (d,))
        for conv, dense, shape in (("c_fc", "inner", (d, dff)), ("c_proj", "output", (dff, d))):
            values[f"{ours}feed_forward/{dense}_dense/kernel"] = t.take(
                f"{hf}mlp.{conv}.weight", shape
            )
            values[f"{ours}feed_forward/{dense}_dense/bias"] = t.take(
                f"{hf}mlp.{conv}.bias", shape[1:]
            )
    values["decoder/final_layer_norm/gamma"] = t.take("ln_f.weight", (d,))
    values["decoder/final_layer_norm/beta"] = t.take("ln_f.bias", (d,))
    t.finish()
    return assign(model, values)


def bert_from_hugging_face(directory: str, dtype=None) -> BertEncoder:
    """A `BertEncoder` (with its pooler) from a Hugging Face BERT checkpoint directory
    (`BertModel`, `BertForMaskedLM`, `BertForPreTraining`...: the task heads, `cls.*`,
    are left out)."""
    return read_bert(directory, dtype)[0]


MLM_HEAD = "cls.predictions."


def read_bert(directory: str, dtype=None):
    """`(BertEncoder, BertMaskedLM or None)` of a Hugging Face BERT checkpoint: the
    masked LM (sharing the encoder) when the checkpoint has its masked-LM head
    (`cls.predictions.*`, as `bert-base-uncased` does); other task heads are left out."""
    config, tensors = read_checkpoint(directory)
    _check_type(config, "bert", directory)
    head = {k[len(MLM_HEAD) :]: tensors.pop(k) for k in list(tensors) if k.startswith(MLM_HEAD)}
    encoder = _bert_encoder(config, tensors, dtype)
    if "transform.dense.weight" not in head:
        return encoder, None
    return encoder, _masked_lm(encoder, Tensors(head, "BERT masked-LM head"))


def _masked_lm(encoder, t):
    """A `BertMaskedLM` on `encoder` with the head's weights; the output projection is
    the word embeddings (tied), so `decoder.weight` is checked to be them. The head's
    transform has the checkpoint's `hidden_act`, as Hugging Face's head does."""
    d, vocab = encoder.d_model, encoder.vocab_size
    model = BertMaskedLM(encoder, head_activation=encoder.activation)
    model.build()
    tied = t.take("decoder.weight", (vocab, d)) if "decoder.weight" in t.tensors else None
    embeddings = ops.convert_to_numpy(encoder.token_embedding.embeddings)
    if tied is not None and not np.allclose(tied, embeddings):
        raise InputError("the BERT masked-LM head's decoder.weight is not the word embeddings")
    t.tensors.pop("decoder.bias", None)  # the same values as `bias` in Hugging Face's files
    head = model.head
    head.transform.kernel.assign(t.take("transform.dense.weight", (d, d)).T)
    head.transform.bias.assign(t.take("transform.dense.bias", (d,)))
    norm = "transform.LayerNorm."
    new = norm + "weight" in t.tensors
    head.layer_norm.gamma.assign(t.take(norm + ("weight" if new else "gamma"), (d,)))
    head.layer_norm.beta.assign(t.take(norm + ("bias" if new else "beta"), (d,)))
    head.output_bias.assign(t.take("bias", (vocab,)))
    t.finish()
    return model


def _bert_encoder(config, tensors, dtype):
    d, layers, dff = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    positions, segments = config["max_position_embeddings"], config.get("type_vocab_size", 2)
    model = BertEncoder(
        vocab_size=config["vocab_size"],
        num_layers=layers,
        d_model=d,
        num_heads=config["num_attention_heads"],
        dff=dff,
        max_length=positions,
        num_segments=segments,
        dropout=config.get("hidden_dropout_prob", 0.1),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        activation=_activation(config, "hidden_act", "BERT"),
        dtype=dtype,
    )
    model.build()
    t = Tensors(tensors, "BERT", "bert.", ignore=("cls.", "position_ids"))

    def norm(name):  # LayerNorm.weight/.bias (or .gamma/.beta in older checkpoints)
        new = f"{name}.weight" in t.tensors
        return (
            t.take(f"{name}.{'weight' if new else 'gamma'}", (d,)),
            t.take(f"{name}.{'bias' if new else 'beta'}", (d,)),
        )

    def linear(name, inputs, outputs):  # Linear stores output x input
        return t.take(f"{name}.weight", (outputs, inputs)).T, t.take(f"{name}.bias", (outputs,))

    e = "embeddings."
    values = {
        "embedding/token_embedding/embeddings": t.take(
            e + "word_embeddings.weight", (config["vocab_size"], d)
        ),
        "embedding/position_embedding/embeddings": t.take(
            e + "position_embeddings.weight", (positions, d)
        ),
        "segment_embedding/embeddings": t.take(e + "token_type_embeddings.weight", (segments, d)),
    }
    values["embedding_norm/gamma"], values["embedding_norm/beta"] = norm(e + "LayerNorm")
    for i in range(layers):
        hf, ours = f"encoder.layer.{i}.", f"encoder_layer_{i}/"
        attention = ours + "self_attention/attention/"
        for name in ("query", "key", "value"):
            kernel, bias = linear(f"{hf}attention.self.{name}", d, d)
            values[f"{attention}{name}/kernel"], values[f"{attention}{name}/bias"] = kernel, bias
        kernel, bias = linear(hf + "attention.output.dense", d, d)
        values[attention + "attention_output/kernel"] = kernel
        values[attention + "attention_output/bias"] = bias
        gamma, beta = norm(hf + "attention.output.LayerNorm")
        values[ours + "self_attention/layer_norm/gamma"] = gamma
        values[ours + "self_attention/layer_norm/beta"] = beta
        for hf_name, dense, sizes in (
            ("intermediate.dense", "inner", (d, dff)),
            ("output.dense", "output", (dff, d)),
        ):
            kernel, bias = linear(hf + hf_name, *sizes)
            values[f"{ours}feed_forward/{dense}_dense/kernel"] = kernel
            values[f"{ours}feed_forward/{dense}_dense/bias"] = bias
        gamma, beta = norm(hf + "output.LayerNorm")
        values[ours + "feed_forward/layer_norm/gamma"] = gamma
        values[ours + "feed_forward/layer_norm/beta"] = beta
    values["pooler/kernel"], values["pooler/bias"] = linear("pooler.dense", d, d)
    t.finish()
    return assign(model, values)
