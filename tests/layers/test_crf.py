"""The linear-chain CRF: its negative log-likelihood against every tag sequence, summed
by hand; the tagger's CRF loss over words wherever their first pieces are; training it."""

import itertools

import keras
import numpy as np

from tf_transformer.layers.crf import LinearChainCRF, first_to_front
from tf_transformer.models import BertTokenTagger


def brute_force_nll(emissions, tags, start, transitions):
    """`log Z - score(tags)`, Z summed over every sequence of the same length."""

    def score(path):
        total = start[path[0]] + sum(emissions[t, k] for t, k in enumerate(path))
        return total + sum(transitions[a, b] for a, b in zip(path, path[1:], strict=False))

    paths = itertools.product(range(emissions.shape[1]), repeat=len(emissions))
    log_z = np.logaddexp.reduce([score(p) for p in paths])
    return log_z - score(list(tags))


def test_negative_log_likelihood_is_exact_and_ignores_what_follows_each_row():
    rng = np.random.default_rng(0)
    crf = LinearChainCRF(3)
    crf.build()
    crf.start.assign(rng.normal(size=3).astype("float32"))
    crf.transitions.assign(rng.normal(size=(3, 3)).astype("float32"))
    emissions = rng.normal(size=(4, 5, 3)).astype("float32")
    tags = rng.integers(0, 3, size=(4, 5))
    lengths = np.array([5, 3, 1, 0])
    nll = keras.ops.convert_to_numpy(crf.negative_log_likelihood(emissions, tags, lengths))
    start, transitions = crf.start.numpy(), crf.transitions.numpy()
    for row, n in enumerate(lengths[:3]):
        expected = brute_force_nll(emissions[row, :n], tags[row, :n], start, transitions)
        np.testing.assert_allclose(nll[row], expected, rtol=1e-5, atol=1e-5)
    assert nll[3] == 0  # a row without words costs nothing
    emissions[:, 3:] = 50.0  # past row 1's and 2's ends
    tags[:, 3:] = 0
    again = keras.ops.convert_to_numpy(crf.negative_log_likelihood(emissions, tags, lengths))
    np.testing.assert_allclose(again[1:3], nll[1:3], rtol=1e-6)


def test_first_to_front_keeps_the_words_in_order():
    real = np.array([[False, True, False, True, True], [True, False, False, False, True]])
    values = np.arange(10).reshape(2, 5)
    moved = keras.ops.convert_to_numpy(first_to_front(values, real))
    assert moved[0, :3].tolist() == [1, 3, 4] and moved[1, :2].tolist() == [5, 9]
    vectors = np.arange(20).reshape(2, 5, 2)
    moved = keras.ops.convert_to_numpy(first_to_front(vectors, real))
    assert moved[0, :3].tolist() == [[2, 3], [6, 7], [8, 9]]


def tagger(crf=True):
    keras.utils.set_random_seed(3)
    return BertTokenTagger.from_preset(
        "bert_tiny", num_tags=4, labels=["", "O", "B-X", "I-X"], crf=crf, vocab_size=50,
        num_layers=1, d_model=16, num_heads=2, dff=32, max_length=16,
    )  # fmt: skip


def test_the_taggers_crf_loss_reads_each_word_at_its_first_piece():
    model = tagger()
    model.build()
    ids = np.array([[2, 7, 8, 9, 3, 0], [2, 10, 3, 0, 0, 0]], "int32")
    labels = np.array([[0, 2, 0, 3, 0, 0], [0, 1, 0, 0, 0, 0]], "int32")  # 0: not a word
    logits = keras.ops.convert_to_numpy(model(ids))
    loss = float(model.compute_loss(ids, labels, logits))
    start, transitions = model.crf.start.numpy(), model.crf.transitions.numpy()
    first = brute_force_nll(logits[0, [1, 3], 1:], [1, 2], start, transitions)
    second = brute_force_nll(logits[1, [1], 1:], [0], start, transitions)
    np.testing.assert_allclose(loss, (first + second) / 3, rtol=1e-5)


def test_a_crf_tagger_learns_transitions_and_round_trips(tmp_path):
    model = tagger()
    rng = np.random.default_rng(1)
    ids = rng.integers(4, 50, size=(64, 8)).astype("int32")
    ids[:, 0], ids[:, -1] = 2, 3
    labels = np.where(np.arange(8) % 2 == 1, 2, 3)[None].repeat(64, 0)  # B-X I-X B-X ...
    labels[:, [0, -1]] = 0
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")  # the CRF's loss is used
    history = model.fit(ids, labels, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0] / 2
    transitions = model.crf.transitions.numpy()  # tags 0 O, 1 B-X, 2 I-X
    assert transitions[1, 2] > transitions[1, 1] and transitions[2, 1] > transitions[2, 2]
    model.save(tmp_path / "crf.keras")
    loaded = keras.models.load_model(tmp_path / "crf.keras", compile=False)
    assert loaded.get_config()["crf"] is True
    np.testing.assert_allclose(loaded.crf.transitions.numpy(), transitions)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(ids[:2])), keras.ops.convert_to_numpy(model(ids[:2]))
    )
