"""The tagger's IOB rule: each text's tags are the best sequence IOB2 allows (`I-X` only
after `B-X` or `I-X`), found by Viterbi in the graph, checked against every sequence."""

import functools
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pipelines.corpora import load_corpus
from tf_transformer.models import BertTokenTagger
from tf_transformer.serving.bert import TokenTagger
from tf_transformer.serving.entities import NEVER, best_sequences, iob_transitions, viterbi
from tf_transformer.text import SentencePieceTokenizer

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def follows(before, tag) -> bool:
    """IOB2, written out: an `I-X` continues an `X` entity (`before` "O" at a text's start)."""
    return not tag.startswith("I-") or before in (f"B-{tag[2:]}", f"I-{tag[2:]}")


def allowed(tags) -> bool:
    return all(follows(before, tag) for before, tag in zip(["O", *tags], tags, strict=False))


@functools.cache
def all_paths(length, rule=True):
    paths = itertools.product(range(len(LABELS)), repeat=length)
    return np.array([p for p in paths if not rule or allowed([LABELS[i] for i in p])], dtype=int)


def best_allowed(log_probs, start=None, transitions=None, rule=True):
    """The highest-scoring sequence (that IOB2 allows, with `rule`), by trying every
    sequence; `start` and `transitions`: a CRF's scores, added."""
    paths = all_paths(len(log_probs), rule)
    scores = log_probs[np.arange(len(log_probs)), paths].sum(axis=1)
    if start is not None and len(log_probs):
        scores += start[paths[:, 0]] + transitions[paths[:, :-1], paths[:, 1:]].sum(axis=1)
    return paths[int(np.argmax(scores))].tolist()


def test_transitions_allow_exactly_iob2():
    start, transitions = iob_transitions(LABELS)
    for i, j in itertools.product(range(len(LABELS)), repeat=2):
        assert (transitions[i, j] == 0) == follows(LABELS[i], LABELS[j]), (LABELS[i], LABELS[j])
        assert transitions[i, j] in (0, NEVER)
    assert [LABELS[j] for j in range(len(LABELS)) if start[j] == 0] == ["O", "B-PER", "B-LOC"]


def test_viterbi_finds_the_best_allowed_sequence_and_ignores_padding():
    rng = np.random.default_rng(0)
    start, transitions = iob_transitions(LABELS)
    log_probs = np.log(rng.dirichlet(np.full(len(LABELS), 0.4), size=(40, 6))).astype(np.float32)
    lengths = rng.integers(1, 7, size=40)
    best = viterbi(log_probs, lengths, start, transitions).numpy()
    noise = log_probs.copy()
    for row, length in enumerate(lengths):
        assert best[row, :length].tolist() == best_allowed(log_probs[row, :length]), row
        noise[row, length:] = np.log(rng.dirichlet(np.ones(len(LABELS)), 6 - length))
    again = viterbi(noise, lengths, start, transitions).numpy()  # other values past the ends
    for row, length in enumerate(lengths):
        assert again[row, :length].tolist() == best[row, :length].tolist()


def test_decoding_ragged_words_handles_empty_texts_and_batches():
    start, transitions = iob_transitions(LABELS)
    probabilities = tf.ragged.constant(
        [[[0.1, 0.2, 0.5, 0.1, 0.1]], [], [[0.6, 0.1, 0.1, 0.1, 0.1], [0.4, 0, 0.6, 0, 0]]],
        ragged_rank=1,
    )
    decode = tf.function(lambda p: best_sequences(p, start, transitions))
    assert decode(probabilities).to_list() == [[1], [], [0, 0]]  # not I-PER, not O I-PER
    nothing = tf.RaggedTensor.from_row_lengths(tf.zeros([0, len(LABELS)]), tf.zeros([0], tf.int64))
    assert decode(nothing).to_list() == []


def small_tagger(vocab_size, crf=False):
    keras.utils.set_random_seed(11)
    labels = ["", *LABELS]
    return BertTokenTagger.from_preset(
        "bert_tiny", num_tags=len(labels), labels=labels, vocab_size=vocab_size, crf=crf,
        num_layers=1, d_model=16, num_heads=2, dff=32, max_length=64,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tagger_model():
    corpus = load_corpus("cldr:en-pt", size=1500)
    tokenizer = SentencePieceTokenizer.train(corpus.texts("train", 0), vocab_size=400)
    texts = corpus.texts("validation", 0)[:60]
    return small_tagger(tokenizer.vocab_size), tokenizer, texts


def test_the_served_tags_follow_the_rule_and_argmax_can_be_asked_for(tagger_model):
    model, tokenizer, texts = tagger_model
    texts = [" ".join(text.split()[:6]) for text in texts] + [""]
    ruled = TokenTagger(model, tokenizer, seq_len=32)
    free = TokenTagger(model, tokenizer, seq_len=32, iob_rule=False)
    assert ruled.decoding == "the best sequence under the IOB rule"
    assert free.decoding == "each word's most likely tag"
    words, probabilities = ruled.word_probabilities(tf.constant(texts))
    served = ruled.serve(tf.constant(texts))["tags"].numpy()  # eager: traced in the recipe test
    argmax = free.serve(tf.constant(texts))["tags"].numpy()
    broken = 0
    for row, p in enumerate(probabilities):
        p = p.numpy()
        names = [LABELS[i] for i in p.argmax(-1)]
        assert [t.decode() for t in argmax[row][: len(p)]] == names
        broken += not allowed(names)
        expected = [LABELS[i] for i in best_allowed(np.log(p))]
        assert [t.decode() for t in served[row][: len(p)]] == expected, texts[row]
    assert broken > 0  # random weights: argmax breaks the rule somewhere, the rule mends it
    assert served[-1].tolist() == [b""] * len(served[-1])  # the empty text: no words


@pytest.mark.parametrize("rule", [True, False])
def test_a_crf_taggers_learned_transitions_join_the_words_scores(tagger_model, rule):
    _, tokenizer, texts = tagger_model
    model = small_tagger(tokenizer.vocab_size, crf=True)
    model.build()
    rng = np.random.default_rng(2)
    model.crf.start.assign(rng.normal(0, 2, len(LABELS)).astype("float32"))
    model.crf.transitions.assign(rng.normal(0, 2, (len(LABELS),) * 2).astype("float32"))
    tagger = TokenTagger(model, tokenizer, seq_len=32, iob_rule=rule)
    crf = "the CRF's transitions"
    assert tagger.decoding == f"the best sequence under {'the IOB rule and ' * rule}{crf}"
    texts = [" ".join(text.split()[:5]) for text in texts[:30]]
    _, probabilities = tagger.word_probabilities(tf.constant(texts))
    served = tagger.serve(tf.constant(texts))["tags"].numpy()
    start, transitions = model.crf.start.numpy(), model.crf.transitions.numpy()
    for row, p in enumerate(probabilities):
        p = p.numpy()
        expected = best_allowed(np.log(p), start, transitions, rule=rule)
        assert [t.decode() for t in served[row][: len(p)]] == [LABELS[i] for i in expected]
