import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.errors import InputError
from tf_transformer.models import Transformer
from tf_transformer.models.transformer import PRESETS
from tf_transformer.training import MaskedLoss, masked_accuracy

RNG = np.random.default_rng(0)
SOURCE = np.array([[5, 8, 2, 6, 0, 0], [3, 9, 7, 0, 0, 0]], "int32")
TARGET_IN = np.array([[2, 11, 12, 13, 14], [2, 15, 16, 0, 0]], "int32")


def expected_parameters(num_layers, d_model, dff, vocab, shared):
    """The paper's architecture counted by hand (biases included, LayerNorm = 2d)."""
    attention = 4 * d_model * d_model + 4 * d_model
    ffn = 2 * d_model * dff + dff + d_model
    encoder = num_layers * (attention + ffn + 2 * 2 * d_model)
    decoder = num_layers * (2 * attention + ffn + 3 * 2 * d_model)
    if shared:
        return vocab * d_model + encoder + decoder
    return 2 * vocab * d_model + encoder + decoder + d_model * vocab + vocab


@pytest.mark.parametrize("preset", ["paper_base", "paper_big", "tutorial"])
def test_presets_have_the_published_architecture(preset):
    vocab = 37000
    model = Transformer.from_preset(preset, input_vocab_size=vocab, target_vocab_size=vocab)
    model.build(((None, None), (None, None)))
    options = PRESETS[preset]
    expected = expected_parameters(
        options["num_layers"], options["d_model"], options["dff"], vocab, model.share_embeddings
    )
    assert model.count_params() == expected
    if preset == "paper_base":
        assert (model.num_layers, model.d_model, model.num_heads, model.dff) == (6, 512, 8, 2048)
        assert 60e6 < expected < 66e6  # "65M" in the paper's Table 3
    if preset == "tutorial":
        assert (model.num_layers, model.d_model, model.num_heads, model.dff) == (4, 128, 8, 512)
        assert model.dropout == 0.1


def test_unknown_preset_is_an_input_error():
    with pytest.raises(InputError, match="unknown Transformer preset 'huge'.*tutorial"):
        Transformer.from_preset("huge", input_vocab_size=10, target_vocab_size=10)


def test_call_returns_float32_logits_even_under_mixed_precision():
    model = Transformer.from_preset("tiny", input_vocab_size=20, target_vocab_size=30)
    assert model((SOURCE, TARGET_IN)).shape == (2, 5, 30)
    mixed = Transformer.from_preset(
        "tiny", input_vocab_size=20, target_vocab_size=30, dtype="mixed_bfloat16"
    )
    logits = mixed((SOURCE, TARGET_IN))
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(logits)))


def test_shared_embeddings_tie_source_target_and_output():
    model = Transformer.from_preset("tiny", input_vocab_size=20, target_vocab_size=20)
    tied = Transformer(2, 16, 2, 32, 20, 20, share_embeddings=True)
    tied((SOURCE, TARGET_IN))
    model((SOURCE, TARGET_IN))
    encoder_table = tied.encoder.embedding.token_embedding.embeddings
    assert tied.decoder.embedding.token_embedding.embeddings is encoder_table
    assert tied.final_layer is None
    assert len(tied.trainable_weights) == len(model.trainable_weights) - 3  # 1 table, 1 dense
    hidden = tied.decoder(TARGET_IN, tied.encoder(SOURCE), context_padding_mask=SOURCE != 0)
    by_hand = keras.ops.convert_to_numpy(hidden) @ keras.ops.convert_to_numpy(encoder_table).T
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(tied((SOURCE, TARGET_IN))), by_hand, atol=1e-4
    )
    with pytest.raises(ValueError, match="one vocabulary"):
        Transformer(2, 16, 2, 32, 20, 21, share_embeddings=True)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="separate", marks=pytest.mark.slow),  # 12 s each: `make test-slow`
        pytest.param({"share_embeddings": True}, id="shared"),
        pytest.param(
            {"position": "learned", "scale_embedding": False},
            id="learned-positions-unscaled",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_keras_save_and_load_give_identical_logits(tmp_path, options):
    model = Transformer(2, 16, 2, 32, 20, 20, max_length=12, dropout=0.1, **options)
    model.compile(optimizer="adam", loss=MaskedLoss(0.1), metrics=[masked_accuracy])
    model.fit((SOURCE, TARGET_IN[:, :-1]), TARGET_IN[:, 1:], epochs=1, verbose=0)
    expected = keras.ops.convert_to_numpy(model((SOURCE, TARGET_IN)))  # eager: no tracing
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded((SOURCE, TARGET_IN))), expected)
    assert loaded.get_config() == model.get_config()


@pytest.mark.slow  # a training run of 17 s: `make test-slow`
def test_a_tiny_model_overfits_one_batch():
    model = Transformer.from_preset("tiny", input_vocab_size=20, target_vocab_size=30)
    source = RNG.integers(1, 20, size=(8, 7))
    target = np.concatenate([np.full((8, 1), 2), RNG.integers(5, 30, size=(8, 7))], axis=1)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), loss=MaskedLoss(), metrics=[masked_accuracy]
    )
    batch = (source, target[:, :-1]), target[:, 1:]
    # 150 steps in one epoch: the work of 150 epochs without their per-epoch overhead
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(150), shuffle=False, verbose=0)
    loss, accuracy = model.evaluate(*batch, verbose=0)
    assert loss < 0.05
    assert accuracy == 1.0


def test_learned_unscaled_positions_as_keras_hub_embeds_them():
    paper = Transformer(2, 16, 2, 32, 20, 30, max_length=12)
    hub_like = Transformer(
        2, 16, 2, 32, 20, 30, max_length=12, position="learned", scale_embedding=False
    )
    for model in (paper, hub_like):
        model.build(((None, None), (None, None)))
    # a learned 12 x 16 position table on each side
    assert hub_like.count_params() == paper.count_params() + 2 * 12 * 16
    embedding = hub_like.encoder.embedding
    tokens = embedding.token_embedding.embeddings.numpy()
    positions = embedding.position_embedding.embeddings.numpy()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(embedding(SOURCE[:1])),
        (tokens[SOURCE[0]] + positions[:6])[None],
        atol=1e-6,
    )
