"""The explain trace of a BERT run: the text framed as the run's predictor frames it (a
pair with its segments, a tagger's words), one pass through the encoder, and what the
run's head reads from it: masked-token predictions, classes or tags."""

import numpy as np
import tensorflow as tf

from tf_transformer.errors import InputError
from tf_transformer.explain import trace as t
from tf_transformer.layers.capture import capture
from tf_transformer.serving.bert import FillMask, PairClassifier, TokenTagger
from tf_transformer.serving.entities import split_words
from tf_transformer.text.bert_inputs import (
    encode_pairs,
    encode_texts,
    encode_with_masks,
    tagger_inputs,
)
from tf_transformer.text.word_features import UNKNOWN

UNCUT = 1_000_000  # a length no text reaches: the encoders' output before any cut


def inputs(predictor, text, pair=None, seq_len=None):
    """The model's inputs for `text` (and `pair`) as the predictor builds them, cut to
    `seq_len`, and the pieces the cut dropped. Returns `(ids, segments, words, dropped)`:
    segment ids for a pair, the words and their first pieces' positions for a tagger."""
    if isinstance(predictor, PairClassifier) != (pair is not None):
        raise InputError(
            "this run reads pairs: give --pair"
            if pair is None
            else "this run reads one text: --pair is for runs fine-tuned on pairs"
        )
    full = encode(predictor, text, pair, UNCUT)
    t.check_length(len(full[0]), predictor.seq_len, seq_len)
    ids, segments, words = encode(predictor, text, pair, seq_len or predictor.seq_len)
    if pair is None:
        return ids, segments, words, dropped(full[0][1:-1].tolist(), ids[1:-1].tolist())
    cut = []  # each side of a pair is cut at its end (longest first)
    for side in (0, 1):
        whole, kept = full[0][full[1] == side], ids[segments == side]
        cut += whole[len(kept) - 1 : -1].tolist()  # its last piece is [SEP]
    return ids, segments, words, cut


def encode(predictor, text, pair, length):
    """`(ids, segments, words)` of one text (or pair) as the predictor encodes it, cut to
    `length` tokens."""
    tokenizer, texts = predictor.tokenizer, tf.constant([text])
    markup = getattr(predictor, "markup", True)
    segments = words = None
    if isinstance(predictor, FillMask):
        ids = encode_with_masks(tokenizer, texts, length)
    elif isinstance(predictor, TokenTagger):
        split = split_words(texts)[0]
        inputs, _, starts = tagger_inputs(tokenizer, split, length, predictor.features)
        own = {}
        if predictor.features is not None:
            own = {name: inputs.pop(name).numpy() for name in ("word_ids", "char_ids")}
            inputs = inputs["token_ids"]
        ids = tf.RaggedTensor.from_tensor(inputs)
        if ids.nrows() > 1:  # the page shows one window of whole words
            raise InputError(f"the text's words do not fit {length} tokens in one window")
        words = {"words": [w.decode() for w in split[0].numpy()], "starts": starts[0].numpy()}
        words["features"] = own  # the words' own ids, for a model that reads them
        if own:  # which words have a vector of their own (the rest: unknown, spelling only)
            words["known"] = [bool(own["word_ids"][0, p] > UNKNOWN) for p in starts[0].numpy()]
    elif pair is not None:
        ids, segments = encode_pairs(tokenizer, texts, tf.constant([pair]), length, markup)
        segments = segments[0].numpy()
    else:
        ids = encode_texts(tokenizer, texts, length, predictor.keep, markup)
    return ids[0].numpy().astype(np.int32), segments, words


def dropped(raw, kept) -> list:
    """The pieces of `raw` a cut left out of `kept` (a head, a tail or both kept)."""
    head = 0
    while head < min(len(raw), len(kept)) and raw[head] == kept[head]:
        head += 1
    return raw[head : len(raw) - (len(kept) - head)]


def trace_bert(predictor, text, run_dir="", config=None, pair=None, seq_len=None):
    """Everything the page shows of the run reading `text` (and `pair`)."""
    t.check_text(text)
    if pair is not None:
        t.check_text(pair, "pair")
    model, tokenizer = predictor.model, predictor.tokenizer
    ids, segments, words, cut = inputs(predictor, text, pair, seq_len)
    feed = {"token_ids": ids[None]}  # what the model reads
    if segments is not None:
        feed["segment_ids"] = segments[None]
    with capture() as seen:
        hidden = model.encoder(feed["token_ids"], segment_ids=feed.get("segment_ids"))
    layers = t.layer_paths(model)
    stack = model.encoder.name
    embedding, blocks = t.stack_records(seen, stack)
    attention = [
        t.attention_group(
            t.of_kind(blocks, "GlobalSelfAttention"),
            layers,
            "self-attention",
            "text",
            "text",
            np.zeros((len(ids),) * 2),  # one text, no padding: nothing masked
        )
    ]
    trace = {
        "meta": t.header(model, "bert", run_dir, config or {}, text, pair=pair),
        "tokens": [t.token_stream("text", tokenizer, ids, cut)],
        "vocabulary": t.vocabulary(tokenizer),
        "embedding": [t.embedding(embedding, model.encoder.embedding)],
        "attention": attention,
        "residual": [t.residual(blocks, stack)],
        "lens": None,
    }
    if segments is not None:
        trace["tokens"][0]["segments"] = segments.tolist()
    head = READOUTS[type(predictor).__name__]
    if words:
        feed.update(words["features"], word_positions=words["starts"])
    trace.update(head(predictor, hidden, feed, blocks, ids))
    if words:
        trace["output"].update(words=words["words"], word_positions=words["starts"])
        if "known" in words:
            trace["output"]["known"] = words["known"]
    return trace


def fill_mask(predictor, hidden, feed, blocks, ids) -> dict:
    model = predictor.model
    embeddings = model.encoder.token_embedding.embeddings
    lens = t.logit_lens(t.streams_after_blocks(blocks), lambda h: model.head(h, embeddings))
    positions = np.flatnonzero(ids == predictor.tokenizer.mask_id)
    logits = t.numpy(model.head(hidden, embeddings))[0][positions]
    output = {"kind": "masks", "positions": positions.astype(np.int32)}
    if len(positions):
        output.update(t.distribution(logits))
    check = _check(predictor, feed, logits if len(positions) else None, positions)
    return {"lens": {"stream": "text", **lens}, "output": output, "check": check}


def classes(predictor, hidden, feed, blocks, ids) -> dict:
    logits = t.numpy(predictor.model(feed, training=False))[0]
    labels = [label.decode() for label in predictor.labels.numpy()]
    output = {"kind": "classes", "labels": labels, **t.distribution(logits[None])}
    return {"output": output, "check": _check(predictor, feed, logits[None], None)}


def tags(predictor, hidden, feed, blocks, ids) -> dict:
    logits = t.numpy(predictor.model(_tagger_input(feed), training=False))[0][:, 1:]
    labels = [label.decode() for label in predictor.tags.numpy()[1:]]
    output = {"kind": "tags", "labels": labels, **t.distribution(logits)}
    at_words = tf.nn.softmax(tf.constant(logits[feed["word_positions"]], tf.float32))
    chosen = predictor.decode(tf.RaggedTensor.from_tensor(at_words[None]))  # as served
    output["tags"] = chosen[0].numpy().astype(np.int32)
    return {"output": output, "check": _check(predictor, feed, logits, feed["word_positions"])}


def _tagger_input(feed):
    """What a tagger reads of `feed`: its token ids, and the words' own ids if it reads
    them."""
    if "word_ids" not in feed:
        return feed["token_ids"]
    return {name: feed[name] for name in ("token_ids", "word_ids", "char_ids")}


def _check(predictor, feed, logits, positions) -> dict:
    """The page's probabilities against a separate compiled pass of the run's model."""
    if logits is None:
        return t.check_report("nothing: the text has no [MASK]", [0.0], [0.0], predictor.model)
    model = predictor.model
    if isinstance(predictor, FillMask):
        feed = {**feed, "mask_positions": positions[None].astype(np.int32)}
        served = tf.function(lambda f: model(f, training=False))(feed)[0]
    elif isinstance(predictor, TokenTagger):  # read at each word's first piece, as served
        served = tf.function(lambda f: model(f, training=False))(_tagger_input(feed))[0][:, 1:]
        served, logits = tf.gather(served, positions), logits[positions]
    else:
        served = tf.function(lambda f: model(f, training=False))(feed)
    served = tf.nn.softmax(tf.cast(served, tf.float32)).numpy()
    compared = f"every probability on the page against a compiled pass of {type(model).__name__}"
    return t.check_report(compared, t.page_probabilities(logits), served, model)


READOUTS = {
    "FillMask": fill_mask,
    "TextClassifier": classes,
    "PairClassifier": classes,
    "TokenTagger": tags,
}
