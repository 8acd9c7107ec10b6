"""GPT-2 and BERT forward passes in NumPy, written from the papers and the released code's
structure over a Hugging Face checkpoint's own tensor names: an oracle that shares
nothing with this package's classes or its converters' name mapping.

GPT-2 (Radford et al., 2019): pre-norm blocks, `Conv1D` weights (input x output) with
query, key and value side by side in `c_attn`, tanh GELU, a final LayerNorm, the output
tied to `wte`. BERT (Devlin et al., 2019): post-norm blocks, `Linear` weights (output x
input), exact GELU, the pooler on the first token, the masked-LM head's transform, LayerNorm
and tied decoder.
"""

import math

import numpy as np


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(-1, keepdims=True) + epsilon) * gamma + beta


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def gelu_erf(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


ACTIVATIONS = {
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu": gelu_erf,
    "relu": lambda x: np.maximum(x, 0),
}


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def attention(q, k, v, heads, mask):
    """Scaled dot-product attention over `heads` heads; `mask` (length, length) True
    where a query may look."""
    length, width = q.shape
    split = lambda x: x.reshape(length, heads, width // heads).transpose(1, 0, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(width // heads)
    scores = np.where(mask[None], scores, -1e30)
    return (softmax(scores) @ v).transpose(1, 0, 2).reshape(length, width)


def gpt2_logits(t, config, ids):
    """Next-token logits `(len(ids), vocab)` of the GPT-2 checkpoint tensors `t`."""
    t = {k.removeprefix("transformer."): np.asarray(v, np.float64) for k, v in t.items()}
    eps, heads = config["layer_norm_epsilon"], config["n_head"]
    act = ACTIVATIONS[config["activation_function"]]
    x = t["wte.weight"][ids] + t["wpe.weight"][: len(ids)]
    causal = np.tril(np.ones((len(ids), len(ids)), bool))
    for i in range(config["n_layer"]):
        p = lambda name: t[f"h.{i}.{name}"]  # noqa: B023, E731
        h = layer_norm(x, p("ln_1.weight"), p("ln_1.bias"), eps)
        q, k, v = np.split(h @ p("attn.c_attn.weight") + p("attn.c_attn.bias"), 3, axis=-1)
        x = x + attention(q, k, v, heads, causal) @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = layer_norm(x, p("ln_2.weight"), p("ln_2.bias"), eps)
        h = act(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = layer_norm(x, t["ln_f.weight"], t["ln_f.bias"], eps)
    return x @ t["wte.weight"].T


def gpt2_greedy(t, config, ids, new_tokens):
    """`new_tokens` greedy continuations of `ids` (a list of ints)."""
    ids = list(ids)
    for _ in range(new_tokens):
        ids.append(int(np.argmax(gpt2_logits(t, config, ids)[-1])))
    return ids[-new_tokens:]


def bert_outputs(t, config, ids, segments=None):
    """`(sequence (len, d), pooled (d,), masked-LM logits (len, vocab) or None)` of the BERT
    checkpoint tensors `t` for one unpadded row of `ids` (`segments`: its token types,
    default all 0)."""
    t = {k.removeprefix("bert."): np.asarray(v, np.float64) for k, v in t.items()}
    eps, heads = config["layer_norm_eps"], config["num_attention_heads"]
    act = ACTIVATIONS[config["hidden_act"]]
    linear = lambda x, name: x @ t[f"{name}.weight"].T + t[f"{name}.bias"]  # noqa: E731
    norm = lambda x, name: layer_norm(x, t[f"{name}.weight"], t[f"{name}.bias"], eps)  # noqa: E731
    e = "embeddings."
    x = t[e + "word_embeddings.weight"][ids] + t[e + "position_embeddings.weight"][: len(ids)]
    segments = np.zeros(len(ids), int) if segments is None else np.asarray(segments)
    x = norm(x + t[e + "token_type_embeddings.weight"][segments], e + "LayerNorm")
    everywhere = np.ones((len(ids), len(ids)), bool)
    for i in range(config["num_hidden_layers"]):
        a = f"encoder.layer.{i}.attention."
        q, k, v = (linear(x, f"{a}self.{n}") for n in ("query", "key", "value"))
        attended = linear(attention(q, k, v, heads, everywhere), a + "output.dense")
        x = norm(x + attended, a + "output.LayerNorm")
        block = f"encoder.layer.{i}."
        h = act(linear(x, block + "intermediate.dense"))
        x = norm(x + linear(h, block + "output.dense"), block + "output.LayerNorm")
    pooled = np.tanh(linear(x[0], "pooler.dense"))
    if "cls.predictions.transform.dense.weight" not in t:
        return x, pooled, None
    h = act(linear(x, "cls.predictions.transform.dense"))
    h = norm(h, "cls.predictions.transform.LayerNorm")
    return x, pooled, h @ t[e + "word_embeddings.weight"].T + t["cls.predictions.bias"]


def random_gpt2(rng, config):
    """Random GPT-2 tensors under the published `gpt2` names (no `transformer.` prefix,
    no `lm_head.weight`), spread wide enough that greedy choices are not near ties."""
    d, dff = config["n_embd"], config["n_inner"]
    n = lambda *shape: rng.normal(0, 0.4, shape).astype(np.float32)  # noqa: E731
    t = {
        "wte.weight": n(config["vocab_size"], d),
        "wpe.weight": n(config["n_positions"], d),
        "ln_f.weight": 1 + n(d) / 4,
        "ln_f.bias": n(d) / 4,
    }
    for i in range(config["n_layer"]):
        h = f"h.{i}."
        t |= {
            h + "ln_1.weight": 1 + n(d) / 4,
            h + "ln_1.bias": n(d) / 4,
            h + "attn.c_attn.weight": n(d, 3 * d),
            h + "attn.c_attn.bias": n(3 * d),
            h + "attn.c_proj.weight": n(d, d) / 2,
            h + "attn.c_proj.bias": n(d),
            h + "ln_2.weight": 1 + n(d) / 4,
            h + "ln_2.bias": n(d) / 4,
            h + "mlp.c_fc.weight": n(d, dff),
            h + "mlp.c_fc.bias": n(dff),
            h + "mlp.c_proj.weight": n(dff, d) / 2,
            h + "mlp.c_proj.bias": n(d),
        }
    return t


def random_bert(rng, config, head=True):
    """Random BERT tensors under `bert-base-uncased`'s names (`bert.*`, `cls.predictions.*`)."""
    d, dff, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    n = lambda *shape: rng.normal(0, 0.3, shape).astype(np.float32)  # noqa: E731
    t = {
        "embeddings.word_embeddings.weight": n(vocab, d),
        "embeddings.position_embeddings.weight": n(config["max_position_embeddings"], d),
        "embeddings.token_type_embeddings.weight": n(2, d),
        "embeddings.LayerNorm.weight": 1 + n(d) / 4,
        "embeddings.LayerNorm.bias": n(d) / 4,
        "pooler.dense.weight": n(d, d),
        "pooler.dense.bias": n(d),
    }
    for i in range(config["num_hidden_layers"]):
        a = f"encoder.layer.{i}.attention."
        for name in ("self.query", "self.key", "self.value", "output.dense"):
            t |= {f"{a}{name}.weight": n(d, d), f"{a}{name}.bias": n(d)}
        t |= {f"{a}output.LayerNorm.weight": 1 + n(d) / 4, f"{a}output.LayerNorm.bias": n(d) / 4}
        f = f"encoder.layer.{i}."
        t |= {f + "intermediate.dense.weight": n(dff, d), f + "intermediate.dense.bias": n(dff)}
        t |= {f + "output.dense.weight": n(d, dff), f + "output.dense.bias": n(d)}
        t |= {f + "output.LayerNorm.weight": 1 + n(d) / 4, f + "output.LayerNorm.bias": n(d) / 4}
    t = {f"bert.{k}": v for k, v in t.items()}
    if head:
        c = "cls.predictions."
        t |= {c + "transform.dense.weight": n(d, d), c + "transform.dense.bias": n(d)}
        t |= {c + "transform.LayerNorm.weight": 1 + n(d) / 4}
        t |= {c + "transform.LayerNorm.bias": n(d) / 4, c + "bias": n(vocab)}
        t[c + "decoder.weight"] = t["bert.embeddings.word_embeddings.weight"]
    return t
