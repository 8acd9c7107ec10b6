import functools

import numpy as np
import tensorflow as tf

from pipelines import translation
from pipelines.sources import load_corpus
from tf_transformer.text import END_ID, START_ID, SentencePieceTokenizer


@functools.lru_cache(maxsize=1)
def setup():
    corpus = load_corpus("cldr:en-pt", size=4000)
    source = SentencePieceTokenizer.train(corpus.texts("train", 0), vocab_size=600)
    target = SentencePieceTokenizer.train(corpus.texts("train", 1), vocab_size=600)
    return corpus, source, target


def batches(**options):
    corpus, source, target = setup()
    return translation.make_batches(corpus.dataset("train"), source, target, **options)


def test_element_spec_is_source_target_in_and_target_out():
    spec = batches().element_spec
    ids = tf.TensorSpec([None, None], tf.int32)
    assert spec == ((ids, ids), ids)


def test_targets_are_framed_and_shifted_by_one():
    corpus, source, target = setup()
    pairs = corpus.train[:64]
    dataset = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*pairs, strict=True))))
    made = translation.make_batches(dataset, source, target, shuffle=0, bucket=False)
    (src, tgt_in), tgt_out = next(iter(made))
    assert np.all(tgt_in[:, 0] == START_ID)
    np.testing.assert_array_equal(tgt_in[:, 1:], tgt_out[:, :-1])
    for i, (s, t) in enumerate(pairs):
        expected = target.tokenize(tf.constant([t]))[0].numpy()
        out = tgt_out[i].numpy()
        length = int(np.sum(out != 0))
        np.testing.assert_array_equal(out[: length - 1], expected)
        assert out[length - 1] == END_ID
        np.testing.assert_array_equal(src[i][src[i] != 0], source.tokenize(tf.constant([s]))[0])


def test_truncation_to_max_tokens():
    for (src, tgt_in), tgt_out in batches(max_tokens=6).take(20):
        assert src.shape[1] <= 6 and tgt_in.shape[1] <= 6 and tgt_out.shape[1] <= 6


def test_bucketing_pads_less_than_pad_to_longest():
    bucketed = translation.padding_fraction(batches(bucket=True, shuffle=0))
    longest = translation.padding_fraction(batches(bucket=False, shuffle=0))
    assert bucketed < longest * 0.75, (bucketed, longest)


def test_every_pair_is_in_exactly_one_batch_per_epoch():
    corpus, _, _ = setup()
    count = sum(int(tf.shape(out)[0]) for _, out in batches(cache=True))
    assert count == len(corpus.train)
