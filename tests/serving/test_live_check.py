"""The export-against-live-model comparison: rounding passes, defects fail."""

import keras
import numpy as np
import pytest

from pipelines.export_checks import translator_requests
from tf_transformer.generation.translator import Translator
from tf_transformer.models import Transformer
from tf_transformer.serving.conformance import ConformanceError, check_export
from tf_transformer.serving.export import export_translator
from tf_transformer.serving.live_check import (
    TOLERANCES,
    Live,
    LiveMismatch,
    compare,
    compare_all,
    first_difference,
    tolerance_of,
    top_two_gap,
)

TOLERANCE = TOLERANCES["bfloat16"]


def test_probabilities_pass_within_the_tolerance_and_fail_beyond_it():
    live = Live({"probabilities": np.array([[0.7, 0.3]])}, probabilities=("probabilities",))
    near = {"probabilities": np.array([[0.7 - TOLERANCE / 2, 0.3 + TOLERANCE / 2]])}
    result = compare("serving_default", near, live, TOLERANCE)
    assert result["max_difference"] == pytest.approx(TOLERANCE / 2)
    far = {"probabilities": np.array([[0.6, 0.4]])}
    with pytest.raises(
        LiveMismatch, match=r"probabilities: differs .* by 0\.1 \(tolerance 0\.02\)"
    ):
        compare("serving_default", far, live, TOLERANCE)
    assert issubclass(LiveMismatch, ConformanceError)  # the CLI's exit 1, one line


def test_a_choice_may_differ_only_at_a_near_tie():
    probabilities = np.array([[0.505, 0.495], [0.9, 0.1]])
    live = Live(
        {"label": np.array([b"pos", b"pos"], dtype=object), "probabilities": probabilities},
        probabilities=("probabilities",),
        margin=lambda row, key, served: float(top_two_gap(probabilities[row])),
    )
    tied = {"label": np.array([b"neg", b"pos"], dtype=object), "probabilities": probabilities}
    assert compare("serving_default", tied, live, TOLERANCE)["near_ties"] == 1
    wrong = {"label": np.array([b"pos", b"neg"], dtype=object), "probabilities": probabilities}
    with pytest.raises(LiveMismatch, match=r"label\[1\]: .* top two are 0\.8 apart"):
        compare("serving_default", wrong, live, TOLERANCE)


def test_an_output_without_a_margin_must_be_equal():
    live = Live({"completion": np.array([b"abc"], dtype=object)})
    with pytest.raises(LiveMismatch, match=r"completion\[0\]: export b'abd' != live model b'abc'"):
        compare("generate", {"completion": np.array([b"abd"], dtype=object)}, live, TOLERANCE)


def test_ranked_tokens_may_swap_at_near_ties_and_at_the_last_rank_only():
    p = np.array([[0.5, 0.3, 0.295, 0.01]])
    tokens = np.array([[b"a", b"b", b"c", b"d"]], dtype=object)
    live = Live({"tokens": tokens, "p": p}, probabilities=("p",), ranked={"tokens": "p"})
    swapped = np.array([[b"a", b"c", b"b", b"d"]], dtype=object)  # 0.3 against 0.295
    compare("next_token", {"tokens": swapped, "p": p}, live, TOLERANCE)
    last = np.array([[b"a", b"b", b"c", b"z"]], dtype=object)  # the fifth could tie the fourth
    compare("next_token", {"tokens": last, "p": p}, live, TOLERANCE)
    first = np.array([[b"b", b"a", b"c", b"d"]], dtype=object)  # 0.5 against 0.3: no tie
    with pytest.raises(LiveMismatch, match="ranked tokens differ"):
        compare("next_token", {"tokens": first, "p": p}, live, TOLERANCE)


def test_first_difference_finds_where_a_served_text_leaves_the_live_one():
    prefixes = [b"Th", b"The", b"The c", b"The cat"]
    assert first_difference(prefixes, b"The cat") is None
    assert first_difference(prefixes, b"The dog") == 2
    assert first_difference(prefixes, b"A cat") == 0
    np.testing.assert_allclose(top_two_gap([[0.1, 0.6, 0.3]]), [0.3])


def test_the_tolerance_follows_the_models_compute_dtype():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, dtype="mixed_bfloat16")(inputs))
    model.dtype_policy = keras.DTypePolicy("mixed_bfloat16")
    assert tolerance_of(model) == ("bfloat16", TOLERANCES["bfloat16"])
    assert tolerance_of(keras.Sequential([keras.layers.Dense(2)])) == ("float32", 1e-4)


@pytest.fixture(scope="module")
def sharp(translator):
    """The fixture's translator with peaked output distributions (its final layer scaled):
    an untrained model's are so flat that every choice is a near-tie."""
    model = Transformer.from_config(translator.model.get_config())
    model.build(((None, None), (None, None)))
    model.set_weights(translator.model.get_weights())
    model.final_layer.kernel.assign(model.final_layer.kernel * 40.0)
    return Translator(model, translator.source_tokenizer, translator.target_tokenizer)


def _check(path, live_translator):
    requests, lives = translator_requests(live_translator, ["3 kilometers", "Saturday"])
    report = check_export(path, requests)  # the served graph answers as the reload, always
    return compare_all(requests, report.reference, lives, live_translator.model)


@pytest.mark.slow  # three exports, each through the C API
def test_a_sound_export_passes_and_broken_ones_fail(sharp, tmp_path):
    lines = _check(export_translator(sharp, str(tmp_path / "sound")), sharp)
    assert lines[0].startswith("serving_default on 5 inputs (translation) answers as the run's")

    changed = Transformer.from_config(sharp.model.get_config())  # a wrong op's effect:
    changed.build(((None, None), (None, None)))  # one layer's output moved
    changed.set_weights(sharp.model.get_weights())
    kernel = changed.decoder.blocks[-1].feed_forward.output_dense.kernel
    kernel.assign(kernel * 3.0)
    broken = Translator(changed, sharp.source_tokenizer, sharp.target_tokenizer)
    with pytest.raises(LiveMismatch):
        _check(export_translator(broken, str(tmp_path / "op")), sharp)

    other = sharp.source_tokenizer  # the target's table lost: the same size, other pieces
    assert other.vocab_size == sharp.target_tokenizer.vocab_size
    retokenized = Translator(sharp.model, sharp.source_tokenizer, other)
    with pytest.raises(LiveMismatch):
        _check(export_translator(retokenized, str(tmp_path / "tokenizer")), sharp)
