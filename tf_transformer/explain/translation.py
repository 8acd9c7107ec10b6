"""The explain trace of a translator: the source through the encoder, the greedy
translation fed back through the decoder (teacher-forced, so every step's attention and
distribution come from one pass), and with a reference where greedy output leaves it."""

import numpy as np
import tensorflow as tf

from tf_transformer.errors import InputError
from tf_transformer.explain import trace as t
from tf_transformer.generation.decoding import generate
from tf_transformer.layers.capture import capture


def source_ids(translator, text, seq_len=None):
    """The ids the translator encodes (its trailing `[PAD]` column included) and the
    pieces a length cut dropped."""
    model = translator.model
    pieces = translator.source_tokenizer.tokenize(tf.constant([text]))[0].numpy()
    keep = t.check_length(len(pieces), model.max_length - 1, seq_len, "source")
    ids = np.append(pieces[:keep], translator.source_tokenizer.pad_id).astype(np.int32)
    return ids, pieces[keep:]


def cached_decoding(translator, source):
    """The compiled, cached greedy decoder's tokens, as served (up to and including
    `[END]`), and its first step's probabilities."""
    model, target = translator.model, translator.target_tokenizer

    @tf.function
    def decode(source):
        cache, static = model.start_decoding(source, translator.max_length)
        prompt = tf.fill([1, 1], target.start_id)
        first, _ = model.decode_step(prompt, cache, 0, static)
        steps = translator.max_length - 1
        tokens = generate(model.decode_step, prompt, cache, static, steps, end_id=target.end_id)
        return tokens, tf.nn.softmax(first[:, 0])

    tokens, first = decode(tf.constant(source[None]))
    tokens = [int(i) for i in tokens[0].numpy() if i != target.pad_id]
    if target.end_id in tokens:
        tokens = tokens[: tokens.index(target.end_id) + 1]
    return tokens, first.numpy()[0]


def trace_translation(translator, text, run_dir="", config=None, reference=None, seq_len=None):
    """Everything the page shows of translating `text` (optionally against `reference`)."""
    t.check_text(text)
    if reference is not None:
        t.check_text(reference, "reference")
    model, target = translator.model, translator.target_tokenizer
    source, dropped = source_ids(translator, text, seq_len)
    chosen, first_step = cached_decoding(translator, source)
    if not chosen:
        raise InputError("the model translates this text to nothing: there is no step to show")
    target_in = np.asarray([target.start_id, *chosen[:-1]], np.int32)
    with capture() as seen:
        logits = t.numpy(model((source[None], target_in[None]), training=False))[0]
    layers = t.layer_paths(model)
    encoder_embedding, encoder = t.stack_records(seen, "encoder")
    decoder_embedding, decoder = t.stack_records(seen, "decoder")
    context = t.numpy(model.encoder.finish(encoder[-1].output))  # what cross-attention read
    is_pad = source == translator.source_tokenizer.pad_id
    padding = np.broadcast_to(is_pad, (len(target_in), len(source)))
    source_padding = np.broadcast_to(is_pad, (len(source), len(source)))
    causal = np.triu(np.ones((len(target_in), len(target_in))), 1)
    groups = [  # name, its sublayers, query and key streams, mask, keys' input if not own
        (
            "encoder self-attention",
            encoder,
            "GlobalSelfAttention",
            "source",
            "source",
            source_padding,
            None,
        ),
        (
            "decoder causal self-attention",
            decoder,
            "CausalSelfAttention",
            "target",
            "target",
            causal,
            None,
        ),
        ("cross-attention", decoder, "CrossAttention", "target", "source", padding, context),
    ]
    attention = [
        t.attention_group(t.of_kind(records, kind), layers, name, q, k, mask, ctx)
        for name, records, kind, q, k, mask, ctx in groups
    ]
    lens = t.logit_lens(
        t.streams_after_blocks(decoder), lambda h: model.logits(model.decoder.finish(h))
    )
    output = {"kind": "steps", "chosen": np.asarray(chosen, np.int32), **t.distribution(logits)}
    if reference is not None:
        output["reference"] = score_reference(translator, source, reference)
    return {
        "meta": t.header(model, "translate", run_dir, config or {}, text, reference=reference),
        "tokens": [
            t.token_stream("source", translator.source_tokenizer, source, dropped),
            t.token_stream("target", target, target_in),
        ],
        "vocabulary": t.vocabulary(target),
        "embedding": [
            t.embedding(encoder_embedding, model.encoder.embedding),
            t.embedding(decoder_embedding, model.decoder.embedding),
        ],
        "attention": attention,
        "residual": [t.residual(encoder, "encoder"), t.residual(decoder, "decoder")],
        "lens": {"stream": "target", **lens},
        "output": output,
        "check": check(model, logits, chosen, first_step),
    }


def score_reference(translator, source, reference) -> dict:
    """The log-probability of each reference token after the reference so far, the
    model's own choice there, and the first step where greedy output would leave it."""
    target = translator.target_tokenizer
    ids = target.tokenize(tf.constant([reference]))[0].numpy().tolist()
    ids = [*ids[: translator.max_length - 2], target.end_id]
    target_in = np.asarray([target.start_id, *ids[:-1]], np.int32)
    logits = t.numpy(translator.model((source[None], target_in[None]), training=False))[0]
    logp = np.log(t.softmax(logits))
    best = logp.argmax(-1)
    leaves = [step for step, token in enumerate(ids) if best[step] != token]
    return {
        "ids": np.asarray(ids, np.int32),
        "logprobs": np.asarray([logp[i, token] for i, token in enumerate(ids)], np.float32),
        "best": best.astype(np.int32),
        "leaves_at": leaves[0] if leaves else -1,
    }


def check(model, logits, chosen, first_step) -> dict:
    """The page against the compiled, cached decoder (a separate pass, as served): its
    first step's probabilities against the page's (float16 logits, softmax as the page
    computes it), and every greedy choice against the page's argmax (near-ties excepted)."""
    wrong = t.disagreements(logits, chosen, t.tolerance(model))
    compared = "the first step's probabilities and every greedy token, against the "
    compared += "compiled decoder with its key/value cache"
    return t.check_report(compared, t.page_probabilities(logits[:1])[0], first_step, model, wrong)
