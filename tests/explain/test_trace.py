"""The numbers the explain page shows, against the models that made them."""

import base64
import json
import re
import zlib

import numpy as np
import pytest
import tensorflow as tf

from tests.explain.conftest import TEXT
from tf_transformer.errors import InputError
from tf_transformer.explain import page, render, trace_bert, trace_gpt, trace_translation
from tf_transformer.explain.trace import pieces, rollout, softmax
from tf_transformer.text.bert_inputs import encode_with_masks


@pytest.fixture(scope="module")
def translation(translator):
    return trace_translation(translator, TEXT, reference="sábado, 9 de junho de 1984")


def test_every_head_recomputed_from_the_layer_weights_equals_the_layer(translation):
    for group in translation["attention"]:
        assert group["probability_error"] < 1e-5, group["name"]
        assert group["output_error"] < 1e-4, group["name"]
        assert group["weights"].dtype == np.uint16  # probabilities in steps of 1/65535
        weights = group["weights"] / 65535
        masked = group["masked"].astype(bool)
        assert np.all(weights[..., masked] == 0)  # masked: exactly 0, not small
        np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-3)  # rows of 1/65535 steps
        assert np.all(group["entropy"] >= 0)
        assert group["entropy"].shape == weights.shape[:2]
    names = [group["name"] for group in translation["attention"]]
    assert names == ["encoder self-attention", "decoder causal self-attention", "cross-attention"]
    causal = translation["attention"][1]["masked"]
    assert np.array_equal(causal, np.triu(np.ones_like(causal), 1))
    cross = translation["attention"][2]["masked"]
    assert cross[:, -1].all() and not cross[:, :-1].any()  # the translator's [PAD] column


def test_the_translation_page_is_the_served_greedy_translation(translator, translation):
    served = tf.function(translator.token_ids)(tf.constant([TEXT])).numpy()[0]
    served = [int(i) for i in served if i != translator.target_tokenizer.pad_id]
    output = translation["output"]
    assert output["chosen"].tolist() == served
    assert output["logits"].shape == (len(served), translator.target_tokenizer.vocab_size)
    assert output["logits"].astype(np.float32).argmax(-1).tolist() == served
    assert translation["check"]["passed"] and translation["check"]["difference"] < 1e-5
    stream = translation["tokens"][1]
    assert stream["ids"][0] == translator.target_tokenizer.start_id
    assert stream["ids"][1:] == served[:-1]  # teacher-forced: the decoder read its own output


def test_the_reference_is_scored_token_by_token(translator):
    served = translator.translate_strings([TEXT])[0]
    same = trace_translation(translator, TEXT, reference=served)["output"]["reference"]
    if same["ids"].tolist() == trace_translation(translator, TEXT)["output"]["chosen"].tolist():
        assert same["leaves_at"] == -1  # its own translation: greedy never leaves it
    other = trace_translation(translator, TEXT, reference="xyz xyz xyz")["output"]["reference"]
    assert other["leaves_at"] == int(np.flatnonzero(other["best"] != other["ids"])[0])
    assert np.all(other["logprobs"] <= 0)


def test_rollout_rows_are_distributions():
    weights = softmax(np.random.default_rng(0).normal(size=(3, 2, 5, 5)))
    flow = rollout(weights)
    np.testing.assert_allclose(flow.sum(-1), 1, atol=1e-9)
    one = rollout(weights[:1])
    np.testing.assert_allclose(one, 0.5 * weights[0].mean(0) + 0.5 * np.eye(5), atol=1e-9)


def test_gpt_page_numbers_and_the_cut(generator):
    traced = trace_gpt(generator, TEXT)
    ids = traced["tokens"][0]["ids"]
    assert ids[0] == generator.tokenizer.end_id  # the generator's prompt start
    served = generator.next_token(tf.constant([TEXT]), k=5)[1].numpy()[0]
    last = softmax(traced["output"]["logits"][-1].astype(np.float32))
    np.testing.assert_allclose(np.sort(last)[::-1][:5], served, atol=1e-3)
    assert traced["check"]["passed"]
    lens = traced["lens"]
    assert lens["ids"].shape == (2, len(ids), 5)
    assert traced["attention"][0]["probability_error"] < 1e-5
    long = " ".join(["Saturday"] * 40)
    with pytest.raises(InputError, match=r"reads at most 24; pass --seq-len 24"):
        trace_gpt(generator, long)
    cut = trace_gpt(generator, long, seq_len=10)["tokens"][0]
    assert len(cut["ids"]) == 10 and cut["dropped"]  # the last tokens kept, as generation does
    everything = generator.tokenizer.tokenize(tf.constant([long]))[0].numpy().tolist()
    assert cut["ids"] == everything[-10:]
    with pytest.raises(InputError, match="empty"):
        trace_gpt(generator, "  ")


def test_bert_masks_pairs_and_tags(fill_mask, pair_classifier, tagger):
    masks = trace_bert(fill_mask, "Saturday, [MASK] 9, 1984")
    position = masks["output"]["positions"].tolist()
    assert [masks["tokens"][0]["ids"][p] for p in position] == [fill_mask.tokenizer.mask_id]
    served = fill_mask.predict(["Saturday, [MASK] 9, 1984"])["scores"][0, 0]
    page_p = np.sort(softmax(masks["output"]["logits"][0].astype(np.float32)))[::-1]
    np.testing.assert_allclose(page_p[: len(served)], served, atol=1e-3)
    assert masks["tokens"][0]["dropped"] == []  # [MASK] is one token, not its letters
    long = " ".join(["Saturday, [MASK] 9, 1984"] * 8)
    cut = trace_bert(fill_mask, long, seq_len=10)["tokens"][0]
    whole = encode_with_masks(fill_mask.tokenizer, tf.constant([long]), 1000)[0].numpy()
    whole = pieces(fill_mask.tokenizer, whole[1:-1].tolist())
    assert len(cut["ids"]) == 10 and cut["pieces"][1:-1] + cut["dropped"] == whole  # head kept
    pairs = trace_bert(pair_classifier, TEXT, pair="June 9")
    segments = pairs["tokens"][0]["segments"]
    assert segments[0] == 0 and segments[-1] == 1 and sorted(segments) == segments
    served = pair_classifier.predict([(TEXT, "June 9")])["probabilities"][0]
    np.testing.assert_allclose(
        softmax(pairs["output"]["logits"][0].astype(np.float32)), served, atol=1e-3
    )
    short = trace_bert(pair_classifier, TEXT, pair=TEXT + " " + TEXT, seq_len=12)["tokens"][0]
    sides = pair_classifier.tokenizer.tokenize(tf.constant([TEXT, TEXT + " " + TEXT]))
    kept = [short["segments"].count(0) - 2, short["segments"].count(1) - 1]  # [CLS], [SEP]s
    cut = [side[n:] for side, n in zip(sides.to_list(), kept, strict=True)]
    assert short["dropped"] == pieces(pair_classifier.tokenizer, cut[0] + cut[1])
    assert cut[0] and cut[1]  # longest first: both sides cut here
    with pytest.raises(InputError, match="give --pair"):
        trace_bert(pair_classifier, TEXT)
    assert "known" not in traced_as_served(tagger, TEXT)["output"]  # no word vectors


def traced_as_served(tagger, text):
    """The trace of a tagger has the words, their probabilities and tags as served."""
    tags = trace_bert(tagger, text)
    assert tags["output"]["words"] == text.split()
    _, served = tagger.word_probabilities(tf.constant([text]))
    at_words = tags["output"]["logits"][tags["output"]["word_positions"]].astype(np.float32)
    np.testing.assert_allclose(softmax(at_words), served[0].numpy(), atol=1e-3)
    labels = tags["output"]["labels"]
    served_tags = [tag.decode() for tag in tagger.predict([text])["tags"][0]]
    assert [labels[i] for i in tags["output"]["tags"]] == served_tags
    assert tags["check"]["passed"]
    return tags


def test_a_tagger_reading_word_features_is_traced_as_served(feature_tagger):
    traced_as_served(feature_tagger, "Monday, June 9 Zürich")
    known = trace_bert(feature_tagger, "Monday, June 9 Zürich")["output"]["known"]
    assert known == [False, True, False, False]  # "Monday," and "9" are not "Monday", "9,"


def _unpack(html):
    description = json.loads(re.search(r'id="trace">(.*?)</script>', html, re.S).group(1))
    data = zlib.decompress(
        base64.b85decode(re.search(r'id="trace-data">(.*?)</script>', html, re.S).group(1))
    )
    return description, data


def test_the_page_carries_the_arrays_exactly_and_asks_for_nothing(translation):
    hostile = {**translation, "meta": {**translation["meta"], "text": "</script>{{script}}<b>"}}
    html = render(hostile)
    assert (
        page.POLICY in html and '<meta name="generator" content="tf-transformer explain">' in html
    )
    assert "</script>{{script}}" not in html  # a user's text can neither close the script ...
    description, data = _unpack(html)
    assert description["meta"]["text"] == "</script>{{script}}<b>"  # ... nor fill the template
    ref = description["attention"][0]["weights"]
    count = int(np.prod(ref["shape"]))
    planes = np.frombuffer(data, np.uint8, 2 * count, ref["$"]).reshape(2, count)
    stored = planes.T.copy().view("<u2").reshape(ref["shape"])  # low bytes, then high
    assert np.array_equal(stored, translation["attention"][0]["weights"])
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "fetch(" not in html and "XMLHttpRequest" not in html
