"""KerasHub's GPT-2 into `GPT` and BERT into `BertEncoder`: random backbones built offline,
converted, must give the same outputs (no weights can be downloaded here; the code path is
the one a published preset takes)."""

import types

import keras
import keras_hub
import pytest

from tests.models.keras_hub_oracle import (
    SIZE,
    assert_bert_outputs_close,
    assert_real_positions_close,
    padded_batch,
    randomized,
)
from tf_transformer.errors import InputError
from tf_transformer.models.convert import bert_from_keras_hub, gpt_from_keras_hub


@pytest.fixture(scope="module")
def backbone():
    keras.utils.set_random_seed(7)
    return randomized(keras_hub.models.GPT2Backbone(**SIZE, max_sequence_length=40, dropout=0.0))


def test_converted_gpt2_gives_keras_hubs_logits_on_a_padded_batch(backbone):
    ids, mask, lengths = padded_batch(seed=1)
    hidden = backbone({"token_ids": ids, "padding_mask": mask})
    model = gpt_from_keras_hub(backbone)
    assert model.count_params() == backbone.count_params()
    theirs = backbone.token_embedding(hidden, reverse=True)
    assert_real_positions_close(model(ids, padding_mask=mask), theirs, lengths)


def test_a_mismatched_or_missing_tensor_is_a_one_line_error(backbone):
    wider = types.SimpleNamespace(
        get_config=lambda: {**backbone.get_config(), "hidden_dim": 128},
        weights=backbone.weights,
    )
    with pytest.raises(
        InputError,
        match=r"tensor token_embedding/embeddings has shape \(300, 64\), expected \(300, 128\)",
    ):
        gpt_from_keras_hub(wider)
    missing = types.SimpleNamespace(
        get_config=backbone.get_config,
        weights=[v for v in backbone.weights if v.path != "layer_norm/gamma"],
    )
    with pytest.raises(InputError, match="has no tensor layer_norm/gamma$"):
        gpt_from_keras_hub(missing)


def test_converted_bert_gives_keras_hubs_sequence_and_pooled_outputs():
    keras.utils.set_random_seed(8)
    hub = randomized(keras_hub.models.BertBackbone(**SIZE, max_sequence_length=40, dropout=0.0))
    encoder = bert_from_keras_hub(hub)
    assert encoder.count_params() == hub.count_params()
    assert_bert_outputs_close(encoder, hub, seed=2)
