import functools

import numpy as np
import tensorflow as tf

from pipelines import translation
from pipelines.corpora import load_corpus
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


def test_counted_epochs_fit_without_running_out_of_data():
    """Bucketing hides the batch count; `with_length` counts it once (the same every epoch,
    whatever the shuffle), so `fit` never warns that the input "ran out of data"."""
    import warnings

    import keras

    from tf_transformer.models import Transformer
    from tf_transformer.training import MaskedLoss

    corpus, source, target = setup()
    pairs = corpus.dataset("train", limit=600)
    counted = translation.with_length(
        translation.make_batches(pairs, source, target, batch_size=32, max_tokens=16, seed=1)
    )
    assert len(counted) == sum(1 for _ in counted) == sum(1 for _ in counted)
    model = Transformer(1, 16, 2, 32, source.vocab_size, target.vocab_size)  # one layer: quick
    model.compile(keras.optimizers.Adam(1e-3), MaskedLoss())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(counted, epochs=2, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    assert len(history.history["loss"]) == 2


def test_count_truncated_counts_pairs_over_the_limit_on_either_side():
    corpus, source, target = setup()
    pairs = [("a b c d e f g h i j k l", "x"), ("a", "x y z w v u t s r q p o"), ("a b", "x y")]
    dataset = tf.data.Dataset.from_tensor_slices(tuple(map(list, zip(*pairs, strict=True))))
    lengths = [len(source.tokenize(tf.constant([s]))[0]) for s, _ in pairs]
    assert lengths[0] > 6 and lengths[2] <= 6
    assert translation.count_truncated(dataset, source, target, max_tokens=6) == 2
    assert translation.count_truncated(dataset, source, target, max_tokens=200) == 0
