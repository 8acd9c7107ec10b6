"""The explain trace of a GPT: the prompt as the generator frames it, one causal pass,
the next-token distribution at every position and the sampler's settings."""

import numpy as np
import tensorflow as tf

from tf_transformer.explain import trace as t
from tf_transformer.layers.capture import capture

FULL_LOGITS = 1_000_000  # output values the page keeps in full (the last positions first)
TOP = 20  # tokens kept at positions beyond that budget


def prompt_ids(generator, text, seq_len=None):
    """The ids the generator reads (its start token first where it adds one); a cut keeps
    the last tokens, as generation does. Also the dropped pieces."""
    ids = generator.tokenizer.tokenize(tf.constant([text]))[0].numpy().tolist()
    if generator.prompt_start == "end" or not ids:
        ids = [generator.tokenizer.end_id, *ids]
    keep = t.check_length(len(ids), generator.model.max_length, seq_len, "prompt")
    return np.asarray(ids[len(ids) - keep :], np.int32), ids[: len(ids) - keep]


def trace_gpt(generator, text, run_dir="", config=None, seq_len=None):
    """Everything the page shows of reading `text` and choosing the next token."""
    t.check_text(text)
    model = generator.model
    ids, dropped = prompt_ids(generator, text, seq_len)
    with capture() as seen:
        logits = t.numpy(model(ids[None], training=False))[0]
    layers = t.layer_paths(model)
    embedding, decoder = t.stack_records(seen, "decoder")
    causal = np.triu(np.ones((len(ids), len(ids))), 1)
    attention = [
        t.attention_group(
            t.of_kind(decoder, "CausalSelfAttention"),
            layers,
            "causal self-attention",
            "text",
            "text",
            causal,
        )
    ]
    lens = t.logit_lens(
        t.streams_after_blocks(decoder), lambda h: model.logits(model.decoder.finish(h))
    )
    return {
        "meta": t.header(model, "gpt", run_dir, config or {}, text),
        "tokens": [t.token_stream("text", generator.tokenizer, ids, dropped)],
        "vocabulary": t.vocabulary(generator.tokenizer),
        "embedding": [t.embedding(embedding, model.decoder.embedding)],
        "attention": attention,
        "residual": [t.residual(decoder, "decoder")],
        "lens": {"stream": "text", **lens},
        "output": next_tokens(generator, logits),
        "check": check(model, ids, logits),
    }


def next_tokens(generator, logits) -> dict:
    """The next-token distribution at every position: in full at the last positions that
    fit `FULL_LOGITS` values, the top `TOP` everywhere; and the sampler's defaults."""
    positions, vocab = logits.shape
    full = max(1, min(positions, FULL_LOGITS // vocab))
    top, p = t.top_tokens(logits, TOP)
    return {
        "kind": "next_token",
        "full_from": positions - full,  # positions from here on carry every logit
        **t.distribution(logits[positions - full :]),
        "top_ids": top,
        "top_probabilities": p,
        "sampler": {
            "temperature": float(generator.temperature),
            "top_k": int(generator.top_k),
            "top_p": float(generator.top_p),
        },
    }


def check(model, ids, logits) -> dict:
    """The page's last-position probabilities (float16 logits, softmax as the page
    computes it) against a separate compiled pass through the key/value cache, as the
    generator and the export's `next_token` run it."""

    @tf.function
    def cached(ids):
        cache = model.init_cache(1, tf.shape(ids)[1])
        last, _ = model.decode_step(ids, cache, 0, {})
        return tf.nn.softmax(last[:, -1])

    served = cached(tf.constant(ids[None])).numpy()[0]
    compared = "the last position's probabilities against a compiled pass through the "
    compared += "key/value cache (as generation runs)"
    return t.check_report(compared, t.page_probabilities(logits[-1:])[0], served, model)
