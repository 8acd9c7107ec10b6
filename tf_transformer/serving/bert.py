"""Text in, answers out, for the BERT-style models: fill-mask, classification of texts
and of pairs of texts, tagging.

Each predictor is a `tf.Module` whose method runs entirely in the graph (tokenize, encode,
read out), so the same object answers in process and, exported, in TensorFlow Serving.
Texts are cut to `seq_len` tokens (default: the model's positions; the recipes pass the
length they trained on).
"""

import tensorflow as tf

from tf_transformer.serving.entities import (
    best_sequences,
    entity_spans,
    iob_transitions,
    is_iob,
    split_words,
)
from tf_transformer.serving.export import TEXT, export_model
from tf_transformer.text.bert_inputs import (
    encode_pairs,
    encode_texts,
    encode_with_masks,
    padded,
    tagger_inputs,
)

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
        token_ids = padded(ids)
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
        return self.answer(padded(ids))

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
        return self.answer({"token_ids": padded(ids), "segment_ids": padded(segments)})

    def columns(self, pairs) -> tuple:
        pairs = [tuple(pair) for pair in pairs]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("a pair classifier reads (text, pair) two texts at a time")
        sides = tuple(zip(*pairs, strict=True)) or ((), ())
        return tuple(tf.constant(list(side), tf.string) for side in sides)


class TokenTagger(Predictor):
    """`serve(texts)`: each text split on whitespace into words, and a tag per word (read at
    its first piece; a text longer than `seq_len` pieces is read in windows of whole words,
    so every word gets one). Returns `{"tokens": string[batch, words], "tags":
    string[batch, words]}`, padded with `""`; with IOB tags (`B-PER`, `I-PER`, `O`) also
    the entity spans (`entity_spans`): `entity_types` and `entity_texts`
    (string[batch, entities], padded with `""`), `entity_starts` and `entity_ends`
    (int32[batch, entities], character offsets, padded with -1).

    With IOB tags, each text's tags are the sequence the IOB2 rule allows (no `I-X` but
    after `B-X` or `I-X`) with the largest product of the words' probabilities
    (`entities.viterbi`); `iob_rule=False` takes each word's most likely tag on its own.
    A model with a CRF (`BertTokenTagger(crf=True)`) adds its learned transition scores
    to the sequence's, with or without the rule.

    The model's class 0 is the "no label" of the training data (see
    `pipelines.masked_lm`), so tag names are `model.labels[1:]`. A model that reads the
    words' own features (`BertTokenTagger(word_features=...)`) needs the run's
    `features` (`text.word_features.WordFeatures`), looked up in the graph too.
    """

    def __init__(self, model, tokenizer, seq_len=None, iob_rule=True, features=None):
        super().__init__(model, tokenizer, seq_len, name="token_tagger")
        if (features is None) != (getattr(model, "word_embedding", None) is None):
            raise ValueError("a tagger that reads word features needs them, and only it")
        self.features = features
        labels = model.labels or [str(i) for i in range(model.num_tags)]
        self.tags = tf.constant(labels)
        self.spans = is_iob(labels[1:])
        self.rule = iob_transitions(labels[1:]) if self.spans and iob_rule else None
        self.crf = getattr(model, "crf", None)

    def word_probabilities(self, texts):
        """The words of each text and, per word, the probabilities of the tags (read at its
        first piece, in the window of whole words it falls in: see
        `bert_inputs.encode_words`): `(words, probabilities)`, ragged `[batch, (words)]`
        and `[batch, (words), tags]`."""
        texts = tf.convert_to_tensor(texts, tf.string)
        words, _, _ = split_words(texts)
        return words, self._probabilities(words)

    def inputs(self, words):
        """The model's inputs for words `(batch, (w))` and where each word's first piece is
        in them: `bert_inputs.tagger_inputs`."""
        return tagger_inputs(self.tokenizer, words, self.seq_len, self.features)

    def _probabilities(self, words):
        inputs, window, position = self.inputs(words)
        logits = self.model(inputs, training=False)
        probabilities = tf.nn.softmax(tf.cast(logits[..., 1:], tf.float32))
        index = tf.stack([window.flat_values, position.flat_values], axis=1)
        return words.with_flat_values(tf.gather_nd(probabilities, index))

    @property
    def decoding(self) -> str:
        """How `decode` reads the tags, in words (the reports record it)."""
        if self.rule is None and self.crf is None:
            return "each word's most likely tag"
        rule = "the IOB rule" if self.rule is not None else ""
        crf = "the CRF's transitions" if self.crf is not None else ""
        return "the best sequence under " + " and ".join(filter(None, (rule, crf)))

    def decode(self, probabilities):
        """The tag of each word (an index into `model.labels[1:]`), from the words'
        probabilities (ragged `[batch, (words), tags]`): the IOB rule's best sequence, or
        each word's most likely tag."""
        if self.rule is None and self.crf is None:
            best = tf.argmax(probabilities.flat_values, axis=-1, output_type=tf.int32)
            return probabilities.with_flat_values(best)
        count = int(self.tags.shape[0]) - 1  # the tags, without class 0
        start, transitions = tf.zeros([count]), tf.zeros([count, count])
        if self.rule is not None:
            start, transitions = start + self.rule[0], transitions + self.rule[1]
        if self.crf is not None:
            start = start + tf.convert_to_tensor(self.crf.start)
            transitions = transitions + tf.convert_to_tensor(self.crf.transitions)
        return best_sequences(probabilities, start, transitions)

    def serve(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        words, starts, ends = split_words(texts)
        best = self.decode(self._probabilities(words)).flat_values
        tags = words.with_flat_values(tf.gather(self.tags, best + 1))
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


def _features(predictor) -> dict:
    """A tagger's word features, tracked and copied into `assets/` with the tokenizer."""
    features = getattr(predictor, "features", None)
    return {"tagger_": features} if features is not None else {}


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
        {"": predictor.tokenizer, **_features(predictor)},
        {"serving_default": (predictor.serve, list(predictor.signature))},
        model_dir,
        version,
        warmup,
    )
