"""Text in, answers out, for the BERT-style models: fill-mask, classification of texts
and of pairs of texts, tagging.

Each predictor is a `tf.Module` whose method runs entirely in the graph (tokenize, encode,
read out), so the same object answers in process and, exported, in TensorFlow Serving.
Texts are cut to `seq_len` tokens (default: the model's positions; the recipes pass the
length they trained on).
"""

import re

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.serving.export import TEXT, export_model
from tf_transformer.text.bert_inputs import (
    encode_pairs,
    encode_texts,
    encode_with_masks,
    encode_words,
)
from tf_transformer.text.tokenizer import PAD_ID


def _padded(ids):
    """Framed ragged ids as a dense batch padded with id 0, which the encoder masks (every
    BERT vocabulary's `[PAD]`); an empty batch keeps a width of 2 (`[START] [END]`), so
    that reading the first position still works."""
    dense = ids.to_tensor(default_value=PAD_ID)
    return tf.pad(dense, [[0, 0], [0, tf.maximum(2 - tf.shape(dense)[1], 0)]])


PAIR = tf.TensorSpec([None], tf.string, name="pair")  # the second text of each pair


class Predictor(tf.Module):
    """A model, its tokenizer and `serve(texts) -> {name: tensor}`, the graph function
    the export serves (its inputs: `signature`). `predict(list of str)` runs it compiled,
    traced once."""

    signature = (TEXT,)

    def __init__(self, model, tokenizer, seq_len=None, name=None):
        super().__init__(name=name)
        if not model.built:  # a fresh model has no weights yet; export needs them
            model.build()
        self.model = model
        self.tokenizer = tokenizer
        self.seq_len = seq_len or model.encoder.max_length
        self._compiled = None

    def serve(self, texts):
        raise NotImplementedError

    def predict(self, texts):
        """`serve` on a list of Python strings; numpy outputs."""
        if self._compiled is None:
            self._compiled = tf.function(self.serve, input_signature=list(self.signature))
        outputs = self._compiled(*self.columns(texts))
        return {key: value.numpy() for key, value in outputs.items()}

    def columns(self, texts) -> tuple:
        """`predict`'s argument as the tensors `serve` takes."""
        return (tf.constant(list(texts), tf.string),)


class FillMask(Predictor):
    """`serve(texts)`: for every literal `[MASK]` in each text, the `top_k` most likely
    tokens and their probabilities.

    Returns `{"tokens": string[batch, masks, top_k], "scores": float32[batch, masks,
    top_k]}`, `masks` being the most `[MASK]`s of any text in the batch; a text with fewer
    is padded with `""` and 0. A batch without `[MASK]` gets `masks` 0: an empty answer,
    not an error.
    """

    def __init__(self, model, tokenizer, top_k=5, seq_len=None):
        super().__init__(model, tokenizer, seq_len, name="fill_mask")
        self.top_k = top_k

    def serve(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        ids = encode_with_masks(self.tokenizer, texts, self.seq_len)
        token_ids = _padded(ids)
        is_mask = tf.equal(token_ids, self.tokenizer.mask_id)
        width = tf.shape(token_ids)[1]
        positions = tf.ragged.boolean_mask(
            tf.broadcast_to(tf.range(width), tf.shape(token_ids)), is_mask
        )
        present = tf.ones_like(positions, tf.bool).to_tensor(False)
        positions = positions.to_tensor(0)
        logits = self.model({"token_ids": token_ids, "mask_positions": positions}, training=False)
        k = tf.minimum(self.top_k, self.tokenizer.vocab_size)
        scores, token = tf.math.top_k(tf.nn.softmax(logits), k=k)
        tokens = tf.gather(self.tokenizer.vocab, token)
        present = tf.broadcast_to(present[..., None], tf.shape(tokens))
        return {
            "tokens": tf.where(present, tokens, ""),
            "scores": tf.where(present, scores, 0.0),
        }


class TextClassifier(Predictor):
    """`serve(texts)`: `{"label": string[batch], "probabilities": float32[batch,
    classes]}`, the classes in the order of the model's `labels`. A text longer than
    `seq_len` keeps its head, tail or both (`keep`, see `bert_inputs.keep_pieces`);
    `markup=False` strips HTML tags first, as the model was trained."""

    def __init__(self, model, tokenizer, seq_len=None, keep="head", markup=True):
        super().__init__(model, tokenizer, seq_len, name="text_classifier")
        self.labels = tf.constant(model.labels or [str(i) for i in range(model.num_classes)])
        self.keep, self.markup = keep, markup

    def serve(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        ids = encode_texts(self.tokenizer, texts, self.seq_len, self.keep, self.markup)
        return self.answer(_padded(ids))

    def answer(self, inputs):
        probabilities = tf.nn.softmax(tf.cast(self.model(inputs, training=False), tf.float32))
        label = tf.gather(self.labels, tf.argmax(probabilities, axis=-1, output_type=tf.int32))
        return {"label": label, "probabilities": probabilities}


class PairClassifier(TextClassifier):
    """`serve(texts, pairs)`: each text read together with its pair as BERT reads two
    texts (`[CLS] text [SEP] pair [SEP]`, segment ids 0 then 1, the longer one cut first:
    `bert_inputs.encode_pairs`); outputs as `TextClassifier`'s. `predict` takes a list
    of `(text, pair)`."""

    signature = (TEXT, PAIR)

    def __init__(self, model, tokenizer, seq_len=None, markup=True):
        super().__init__(model, tokenizer, seq_len, markup=markup)

    def serve(self, texts, pairs):
        texts = tf.convert_to_tensor(texts, tf.string)
        pairs = tf.convert_to_tensor(pairs, tf.string)
        ids, segments = encode_pairs(self.tokenizer, texts, pairs, self.seq_len, self.markup)
        return self.answer({"token_ids": _padded(ids), "segment_ids": _padded(segments)})

    def columns(self, pairs) -> tuple:
        pairs = [tuple(pair) for pair in pairs]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("a pair classifier reads (text, pair) two texts at a time")
        sides = tuple(zip(*pairs, strict=True)) or ((), ())
        return tuple(tf.constant(list(side), tf.string) for side in sides)


def is_iob(labels) -> bool:
    """Whether tags are IOB entity tags (`O`, `B-TYPE`, `I-TYPE`, at least one `B-`)."""
    return all(re.fullmatch(r"O|[BI]-\S+", label) for label in labels) and any(
        label.startswith("B-") for label in labels
    )


def split_words(texts):
    """The whitespace-separated words of each text, with the byte offsets where each starts
    and ends: ragged `(words, starts, ends)`, `[batch, (words)]` each."""
    words, starts, ends = tf_text.WhitespaceTokenizer().tokenize_with_offsets(texts)
    return words, starts, ends


def entity_spans(texts, tags, starts, ends):
    """The entities of IOB-tagged words as the CoNLL rules read them (an entity starts at
    `B-X`, or at `I-X` after a word outside it) for each text: ragged `(types, first,
    last, text)`, `[batch, (entities)]`, `first`/`last` the entity's character offsets in
    its text (`text[first:last]` in Python), `text` that substring."""
    flat = tags.flat_values
    rows = tags.value_rowids()
    inside = tf.strings.regex_full_match(flat, r"[BI]-.+")
    kind = tf.where(inside, tf.strings.regex_replace(flat, "^[BI]-", ""), "")
    first_word = tf.equal(tf.range(tf.size(rows, tf.int64)), tf.gather(tags.row_starts(), rows))
    before = tf.where(first_word, "", tf.concat([[""], kind[:-1]], 0))
    begins = inside & (tf.strings.regex_full_match(flat, "B-.+") | tf.not_equal(before, kind))
    entity = tf.cumsum(tf.cast(begins, tf.int32)) - 1  # of each word inside an entity
    opening = tf.where(begins)[:, 0]
    last_byte = tf.math.unsorted_segment_max(
        tf.boolean_mask(ends.flat_values, inside),
        tf.boolean_mask(entity, inside),
        tf.size(opening),
    )
    row = tf.gather(rows, opening)
    first_byte = tf.gather(starts.flat_values, opening)
    text = tf.gather(texts, row)
    span = tf.strings.substr(text, first_byte, last_byte - first_byte)
    before_span = tf.strings.substr(text, tf.zeros_like(first_byte), first_byte)
    first = tf.strings.length(before_span, unit="UTF8_CHAR")
    last = first + tf.strings.length(span, unit="UTF8_CHAR")
    batch = tf.shape(texts, out_type=tf.int64)[0]

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, row, nrows=batch)

    return ragged(tf.gather(kind, opening)), ragged(first), ragged(last), ragged(span)


class TokenTagger(Predictor):
    """`serve(texts)`: each text split on whitespace into words, and a tag per word (read at
    its first piece; a text longer than `seq_len` pieces is read in windows of whole words,
    so every word gets one). Returns `{"tokens": string[batch, words], "tags":
    string[batch, words]}`, padded with `""`; with IOB tags (`B-PER`, `I-PER`, `O`) also
    the entity spans (`entity_spans`): `entity_types` and `entity_texts`
    (string[batch, entities], padded with `""`), `entity_starts` and `entity_ends`
    (int32[batch, entities], character offsets, padded with -1).

    The model's class 0 is the "no label" of the training data (see
    `pipelines.masked_lm`), so tag names are `model.labels[1:]`.
    """

    def __init__(self, model, tokenizer, seq_len=None):
        super().__init__(model, tokenizer, seq_len, name="token_tagger")
        labels = model.labels or [str(i) for i in range(model.num_tags)]
        self.tags = tf.constant(labels)
        self.spans = is_iob(labels[1:])

    def word_probabilities(self, texts):
        """The words of each text and, per word, the probabilities of the tags (read at its
        first piece, in the window of whole words it falls in: see
        `bert_inputs.encode_words`): `(words, probabilities)`, ragged `[batch, (words)]`
        and `[batch, (words), tags]`."""
        texts = tf.convert_to_tensor(texts, tf.string)
        words, _, _ = split_words(texts)
        return words, self._probabilities(words)

    def _probabilities(self, words):
        ids, window, position = encode_words(self.tokenizer, words, self.seq_len)
        logits = self.model(_padded(ids), training=False)
        probabilities = tf.nn.softmax(tf.cast(logits[..., 1:], tf.float32))
        index = tf.stack([window.flat_values, position.flat_values], axis=1)
        return words.with_flat_values(tf.gather_nd(probabilities, index))

    def serve(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        words, starts, ends = split_words(texts)
        flat = self._probabilities(words).flat_values
        best = tf.argmax(flat, axis=-1, output_type=tf.int32) + 1
        tags = words.with_flat_values(tf.gather(self.tags, best))
        outputs = {"tokens": words.to_tensor(""), "tags": tags.to_tensor("")}
        if self.spans:
            types, first, last, span = entity_spans(texts, tags, starts, ends)
            outputs.update(
                entity_types=types.to_tensor(""),
                entity_starts=tf.cast(first, tf.int32).to_tensor(-1),
                entity_ends=tf.cast(last, tf.int32).to_tensor(-1),
                entity_texts=span.to_tensor(""),
            )
        return outputs


def export_predictor(predictor: Predictor, model_dir: str, version: int = None, warmup=None):
    """Exports a predictor as a new version of `model_dir` with one signature,
    `serving_default`: `text: string[None]` (and `pair: string[None]` for a pair
    classifier) to the predictor's outputs; `warmup`: the texts (pairs) of the warm-up
    requests (default `export.WARMUP_TEXTS`). Returns its path."""
    if len(predictor.signature) > 1 and warmup is not None:
        columns = predictor.columns(warmup)
        names = [spec.name for spec in predictor.signature]
        warmup = [("serving_default", {n: c.numpy() for n, c in zip(names, columns, strict=True)})]
    return export_model(
        predictor.model,
        {"": predictor.tokenizer},
        {"serving_default": (predictor.serve, list(predictor.signature))},
        model_dir,
        version,
        warmup,
    )
