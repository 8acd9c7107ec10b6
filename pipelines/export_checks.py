"""What `export` checks, for each family: the requests sent to the export, and the live
model's answers where an export must give the same (`tf_transformer.serving.live_check`).

Every request goes to the served graph (the C API) and to the export reloaded in Python,
which must answer alike (`conformance.check_export`); the requests with a `Live` answer
are then compared with the model the export was made from. The texts are the run's own
(`examples`, from its validation text) and the edge cases every export must survive.
"""

import numpy as np
import tensorflow as tf

from tf_transformer.serving import bert as bert_serving
from tf_transformer.serving.export import NEXT_TOKENS
from tf_transformer.serving.live_check import Live, first_difference, top_two_gap

GREEDY_TOKENS = 16  # the greedy completions compared with the live model
STRINGS = tf.TensorSpec([None], tf.string)


def _next_token_live(tokens, probabilities):
    return Live(
        {"tokens": tokens.numpy(), "probabilities": probabilities.numpy()},
        probabilities=("probabilities",),
        ranked={"tokens": "probabilities"},
    )


def divergence_gap(ids, detokenize, served: bytes, gap_after):
    """Where a served text leaves the live model's answer (`ids`, its tokens): the live
    model's gap between its two likeliest tokens there (`gap_after(common text)`)."""
    ids = np.asarray(ids)
    prefixes = np.where(np.tril(np.ones((len(ids), len(ids)), bool)), ids[None, :], 0)
    texts = detokenize(tf.constant(prefixes, tf.int32)).numpy()  # the answer's prefixes
    index = first_difference(texts, served)
    common = texts[-1] if index is None else (texts[index - 1] if index else b"")
    return gap_after(common.decode("utf-8", errors="replace"))


def generator_requests(generator, examples):
    """The GPT export's requests: sampled completions (both signatures, per-row options),
    greedy completions and next-token probabilities (compared with the live model)."""
    prompts = [*examples[:2], "", "🙂", " ".join(["module"] * 3000)]  # the last: over-long
    count = len(prompts)
    per_row = {
        "max_new_tokens": np.array([8, 0, 16, 4, 4][:count], "int32"),
        "temperature": np.array([0.0, 1.0, 0.7, 0.0, 1.0][:count], "float32"),
        "top_k": np.array([0, 5, 40, 0, 0][:count], "int32"),
        "top_p": np.array([1.0, 0.9, 0.95, 1.0, 0.9][:count], "float32"),
        "seed": np.arange(count, dtype="int32"),
    }
    greedy = {
        "max_new_tokens": np.full(count, GREEDY_TOKENS, "int32"),
        "temperature": np.zeros(count, "float32"),
        "top_k": np.zeros(count, "int32"),
        "top_p": np.ones(count, "float32"),
        "seed": np.zeros(count, "int32"),
    }
    live_ids = tf.function(lambda p: generator.token_ids(p, **greedy))(prompts).numpy()
    next_token = tf.function(
        lambda p: generator.next_token(p, NEXT_TOKENS), input_signature=[STRINGS]
    )

    def margin(row, key, served):
        def gap_after(common):
            return float(top_two_gap(next_token([prompts[row] + common])[1].numpy())[0])

        return divergence_gap(live_ids[row], generator.tokenizer.detokenize, served, gap_after)

    requests = [
        ("serving_default", {"prompt": prompts}),
        ("generate", {"prompt": prompts, **per_row}),
        ("generate", {"prompt": prompts, **greedy}),
        ("next_token", {"prompt": prompts}),
    ]
    completions = generator.tokenizer.detokenize(tf.constant(live_ids)).numpy()
    lives = [
        None,
        None,
        Live({"completion": completions}, margin=margin),
        _next_token_live(*next_token(prompts)),
    ]
    return requests, lives


def translator_requests(translator, examples):
    """The translator export's requests: greedy and beam translations and next-token
    probabilities, the greedy ones and the probabilities compared with the live model."""
    texts = [*examples[:2], "", "3 kilometers", "🙂"]
    live_ids = tf.function(translator.token_ids)(tf.constant(texts)).numpy()
    next_token = tf.function(
        lambda t, p: translator.next_token(t, p, NEXT_TOKENS), input_signature=[STRINGS] * 2
    )
    detokenize = translator.target_tokenizer.detokenize
    translations = detokenize(tf.constant(live_ids)).numpy()  # greedy: decoded once, here
    first = translations[0].decode("utf-8", errors="replace")
    prefixes = ["", first[: len(first) // 2]]
    prefixed = [texts[0]] * len(prefixes)

    def margin(row, key, served):
        def gap_after(common):
            return float(top_two_gap(next_token([texts[row]], [common])[1].numpy())[0])

        return divergence_gap(live_ids[row], detokenize, served, gap_after)

    requests = [
        ("serving_default", {"text": texts}),
        ("beam_search", {"text": texts}),
        ("next_token", {"text": texts, "prefix": [""] * len(texts)}),
        ("next_token", {"text": prefixed, "prefix": prefixes}),
    ]
    lives = [
        Live({"translation": translations}, margin=margin),
        None,  # a beam's score sums many steps' rounding: compared with the reload only
        _next_token_live(*next_token(texts, [""] * len(texts))),
        _next_token_live(*next_token(prefixed, prefixes)),
    ]
    return requests, lives


def _pair_requests(examples):
    """The pair classifier's pairs: the run's, and empty, over-long and markup sides."""
    long = " ".join(["word"] * 2000)
    pairs = [tuple(pair) for pair in examples[:2]]
    pairs += [("", ""), ("a text", ""), ("", "a pair"), ("🙂 ok", long), (long, "plain")]
    pairs.append(("line one<br /><br />line <i>two</i>", "<p>markup</p>"))
    return pairs


def bert_requests(predictor, examples):
    """A BERT export's one request, the run's texts and edge cases (empty, no `[MASK]`,
    emoji, over-long, markup; for pairs, either side empty or over-long), compared with the
    live model: class probabilities, fill-mask scores, tag choices."""
    texts = [*examples[:2], "", "🙂 ok", " ".join(["word [MASK]"] * 2000), "plain"]
    texts.append("line one<br /><br />line <i>two</i>")  # markup, stripped or kept
    if isinstance(predictor, bert_serving.PairClassifier):
        texts = _pair_requests(examples)
    values = predictor.predict(texts)
    if isinstance(predictor, bert_serving.TextClassifier):

        def margin(row, key, served):
            return float(top_two_gap(values["probabilities"][row]))

        live = Live(values, probabilities=("probabilities",), margin=margin)
    elif isinstance(predictor, bert_serving.FillMask):
        live = Live(values, probabilities=("scores",), ranked={"tokens": "scores"})
    else:
        _, probabilities = predictor.word_probabilities(tf.constant(texts))

        def margin(row, key, served):  # the widest gap among the words that differ
            words = probabilities[row].numpy()
            differs = (served != values["tags"][row])[: len(words)]
            gaps = top_two_gap(words) if words.shape[-1] > 1 else np.ones(len(words))
            return float(np.max(gaps[differs], initial=0.0))

        live = Live(values, margin=margin)
    inputs = {"text": texts}
    if isinstance(predictor, bert_serving.PairClassifier):
        inputs = {"text": [text for text, _ in texts], "pair": [pair for _, pair in texts]}
    return [("serving_default", inputs)], [live]
