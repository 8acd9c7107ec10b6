"""The numbers of one forward pass, as the explain page shows them: token streams, what
enters the first layer, every attention head (and one worked through from the layer's own
weights), the residual stream, the logit lens and output distributions.

Everything here reads a `capture()` of an ordinary eager call (see
`tf_transformer.layers.capture`); the family modules decide which call. Arrays are numpy,
batch row 0, float32 unless said; `page.write_page` packs them.
"""

import re

import numpy as np
from keras import ops

from tf_transformer.errors import InputError
from tf_transformer.serving.live_check import tolerance_of

SUBLAYER_NAMES = {
    "GlobalSelfAttention": "self-attention",
    "CausalSelfAttention": "causal self-attention",
    "CrossAttention": "cross-attention",
    "FeedForward": "feed-forward",
}
LENS_TOP = 5  # tokens the logit lens keeps per layer and position


def numpy(value) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(value), dtype=np.float32)


def token_stream(name, tokenizer, ids, dropped=()) -> dict:
    """A token stream: pieces, ids, which are special or `[UNK]`, and the pieces a length
    cut dropped."""
    ids = [int(i) for i in ids]
    special = {i for i in tokenizer.special_ids.values() if i is not None}
    return {
        "name": name,
        "ids": ids,
        "pieces": pieces(tokenizer, ids),
        "special": [i in special and i != tokenizer.unk_id for i in ids],
        "unknown": [i == tokenizer.unk_id for i in ids],
        "dropped": pieces(tokenizer, [int(i) for i in dropped]),
    }


def pieces(tokenizer, ids) -> list:
    if len(ids) == 0:
        return []
    looked_up = tokenizer.lookup(np.asarray(ids, np.int32)).numpy()
    return [piece.decode("utf-8", "replace") for piece in looked_up]


def vocabulary(tokenizer) -> list:
    return [piece.decode("utf-8", "replace") for piece in tokenizer.vocab.numpy()]


def embedding(record, layer) -> dict:
    """What enters the first layer: the token embedding (scaled as the model scales it),
    the positional encoding and their sum, with each one's norm per token."""
    token, position, total = (record.input[0], record.added[0], record.output[0])
    return {
        "stack": record.layer.split("/")[-2],
        "position": layer.position,
        "scale": float(np.sqrt(layer.d_model)) if layer.scale else 1.0,
        "norms": np.stack([np.linalg.norm(v, axis=-1) for v in (token, position, total)]),
        "encoding": position.astype(np.float16),
    }


def attention_group(records, layers, name, queries, keys, masked, context=None) -> dict:
    """Every head of one kind of attention, layer by layer: weights `(layers, heads, q,
    k)`, the mask (1 = masked: padding or the future), each head's entropy (nats, averaged
    over the queries), the head-average rollout for self-attention, and each head's query,
    key and value vectors, recomputed from the layer's weights and checked against it."""
    weights = np.stack([r.attention[0] for r in records]).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(weights > 0, np.log(weights), 0.0)
    entropy = -(weights * logs).sum(-1).mean(-1)
    worked = [work_heads(r, layers[r.layer], masked, context) for r in records]
    group = {
        "name": name,
        "kind": records[0].kind,
        "queries": queries,
        "keys": keys,
        "weights": probabilities_u16(weights),
        "masked": masked.astype(np.uint8),
        "entropy": entropy,
        "rollout": None,
        "q": np.stack([w["q"] for w in worked]).astype(np.float16),
        "k": np.stack([w["k"] for w in worked]).astype(np.float16),
        "v": np.stack([w["v"] for w in worked]).astype(np.float16),
        "scale": worked[0]["scale"],
        "probability_error": max(w["probability_error"] for w in worked),
        "output_error": max(w["output_error"] for w in worked),
    }
    if context is None:  # self-attention: attention flows through the stack
        group["rollout"] = probabilities_u16(rollout(weights))
    return group


def probabilities_u16(p) -> np.ndarray:
    """Probabilities in steps of 1/65535 (uint16): exact 0 and 1 stay exact, every value
    is within 1/131070 of the float, and small weights deflate to almost nothing."""
    return np.round(np.asarray(p, np.float64) * 65535).astype(np.uint16)


def rollout(weights) -> np.ndarray:
    """Abnar & Zuidema's attention rollout: per layer the head average with the residual
    as identity (`0.5 A + 0.5 I`, rows renormalized), multiplied through the layers."""
    size = weights.shape[-1]
    flow = np.eye(size, dtype=np.float64)
    for layer in weights:
        step = 0.5 * layer.mean(0)[:, :size] + 0.5 * np.eye(weights.shape[-2], size)
        step /= step.sum(-1, keepdims=True)
        flow = step @ flow
    return flow


def work_heads(record, layer, masked, context=None) -> dict:
    """One attention sublayer's heads by hand: queries, keys and values from its own
    dense layers, scaled dot products, the mask, the softmax, the weighted values and the
    output projection; the largest differences from what the layer computed (the captured
    weights and what the sublayer added to the stream)."""
    stream = record.input
    if layer.normalize_first:
        stream = numpy(layer.layer_norm(stream))
    source = stream if context is None else context
    mha = layer.attention
    q = numpy(mha.query_dense(stream))[0].transpose(1, 0, 2)  # (heads, q, dk)
    k = numpy(mha.key_dense(source))[0].transpose(1, 0, 2)
    v = numpy(mha.value_dense(source))[0].transpose(1, 0, 2)
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = np.where(masked[None] > 0, -np.inf, q @ k.transpose(0, 2, 1) * scale)
    probabilities = softmax(scores)
    heads = probabilities @ v  # (heads, q, dk)
    out = numpy(mha.output_dense(heads.transpose(1, 0, 2)[None].astype(np.float32)))[0]
    return {
        "q": q,
        "k": k,
        "v": v,
        "scale": float(scale),
        "probability_error": float(np.abs(probabilities - record.attention[0]).max()),
        "output_error": float(np.abs(out - record.added[0]).max()),
    }


def softmax(logits, axis=-1) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    top = np.max(np.where(np.isfinite(logits), logits, -np.inf), axis=axis, keepdims=True)
    exp = np.where(np.isfinite(logits), np.exp(logits - top), 0.0)
    return exp / exp.sum(axis=axis, keepdims=True)


def block_of(record) -> int:
    """The block a sublayer's record belongs to, from its path (`.../encoder_layer_2/...`)."""
    return int(re.search(r"_layer_(\d+)/", record.layer).group(1))


def residual(records, stack) -> dict:
    """The residual stream of one stack: per sublayer, the norm of the stream it reads,
    of what it adds and of what it passes on, per token `(sublayers, 3, tokens)`."""
    labels = [f"layer {block_of(r) + 1} {SUBLAYER_NAMES[r.kind]}" for r in records]
    norms = [[np.linalg.norm(v[0], axis=-1) for v in (r.input, r.added, r.output)] for r in records]
    return {"stack": stack, "labels": labels, "norms": np.asarray(norms, np.float32)}


def logit_lens(streams, to_logits) -> dict:
    """Each layer's stream read through the output head (`to_logits`: the final norm, if
    any, and the vocabulary projection): the `LENS_TOP` likeliest tokens and their
    probabilities per layer and position."""
    tops = [top_tokens(numpy(to_logits(stream))[0], LENS_TOP) for stream in streams]
    ids, probabilities = [top for top, _ in tops], [p for _, p in tops]
    return {
        "ids": np.asarray(ids, np.int32),
        "probabilities": np.asarray(probabilities, np.float32),
    }


def top_tokens(logits, k) -> tuple:
    """The `k` likeliest tokens of each row of `(positions, vocab)` logits, likeliest
    first, and their probabilities: a partial sort, so a 50,257-token vocabulary at every
    position costs no full sort."""
    logits = np.asarray(logits, np.float32)
    k = min(k, logits.shape[-1])
    top = np.argpartition(-logits, k - 1, axis=-1)[:, :k]
    order = np.argsort(-np.take_along_axis(logits, top, -1), axis=-1, kind="stable")
    top = np.take_along_axis(top, order, -1)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    p = np.take_along_axis(shifted, top, -1) / shifted.sum(-1, keepdims=True)
    return top.astype(np.int32), p.astype(np.float32)


def shifted(logits) -> np.ndarray:
    """Logits as the page keeps them: minus each row's maximum, float16."""
    logits = np.asarray(logits, np.float32)
    return (logits - logits.max(-1, keepdims=True)).astype(np.float16)


def distribution(logits) -> dict:
    """Output logits as the page keeps them: minus each row's maximum, float16 (the top
    tokens, near 0, keep ~4 significant digits), and the largest probability error that
    costs against float32 (checked here, shown on the page)."""
    stored = shifted(logits)
    error = np.abs(softmax(stored.astype(np.float32)) - softmax(logits)).max()
    return {"logits": stored, "error": float(error)}


def check_length(count, limit, seq_len, what="text") -> int:
    """The number of tokens to keep of a `count`-token input the model reads at most
    `limit` of: all of them, or `seq_len` (`--seq-len`, at most `limit`) when that is set;
    too long without it is the user's to fix."""
    if seq_len is not None:
        if not 1 <= seq_len <= limit:
            raise InputError(f"--seq-len must be in [1, {limit}] for this model, got {seq_len}")
        return min(count, seq_len)
    if count > limit:
        raise InputError(
            f"the {what} is {count} tokens and the model reads at most {limit}; "
            f"pass --seq-len {limit} to see it cut"
        )
    return count


def check_text(text, what="text"):
    if not text.strip():
        raise InputError(f"the {what} to explain is empty")


def layer_paths(model) -> dict:
    return {layer.path: layer for layer in model._flatten_layers(include_self=False)}


def stack_records(seen, stack) -> tuple:
    """The embedding record and the sublayer records of one stack (`encoder`, `decoder`,
    `bert_encoder`) of a capture, in the order they ran."""
    mine = [r for r in seen.records if stack in r.layer.split("/")[:-1]]
    return mine[0], [r for r in mine[1:] if r.kind in SUBLAYER_NAMES]


def of_kind(records, kind) -> list:
    return [record for record in records if record.kind == kind]


def streams_after_blocks(records) -> list:
    """The stream each block passes on: the output of its last sublayer."""
    last = {}
    for record in records:
        last[block_of(record)] = record.output
    return [last[block] for block in sorted(last)]


def header(model, family, run_dir, config, text, **inputs) -> dict:
    return {
        "family": family,
        "model": type(model).__name__,
        "preset": config.get("preset"),
        "run": run_dir,
        "parameters": int(model.count_params()),
        "precision": model.dtype_policy.name,
        "text": text,
        **{key: value for key, value in inputs.items() if value is not None},
    }


def disagreements(page_logits, chosen, tolerance) -> list:
    """Positions where `chosen` (the compiled model's choice) is not the page's argmax
    and the page's top two are further apart than `tolerance` in probability: real
    disagreements, not near-ties."""
    p = softmax(np.asarray(page_logits, np.float32))
    rows = np.arange(len(p))
    gap = p[rows, p.argmax(-1)] - p[rows, np.asarray(chosen)]
    return np.flatnonzero(gap > tolerance).tolist()


def tolerance(model) -> float:
    """How far the page's probabilities may be from the compiled model's: the export
    check's tolerance for the model's compute dtype, and at least float16 storage's 1e-3."""
    return max(1e-3, tolerance_of(model)[1])


def check_report(compared, page, served, model, disagreements=()) -> dict:
    """The header's check: the largest difference between the page's probabilities and
    a separate compiled pass's, within the model's tolerance, and no real disagreement."""
    difference = float(np.abs(np.asarray(page) - np.asarray(served)).max())
    limit = tolerance(model)
    return {
        "compared": compared,
        "difference": difference,
        "tolerance": limit,
        "passed": difference <= limit and not disagreements,
        "disagreements": list(disagreements),
    }


def page_probabilities(logits) -> np.ndarray:
    """Probabilities as the page computes them: softmax of the stored float16 logits."""
    return softmax(shifted(logits).astype(np.float32))
