import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.errors import InputError
from tf_transformer.models import (
    BertClassifier,
    BertEncoder,
    BertMaskedLM,
    BertTokenTagger,
)
from tf_transformer.training import masked_loss

VOCAB = 100
IDS = np.array([[2, 11, 4, 13, 14, 4, 3, 0, 0], [2, 21, 22, 4, 3, 0, 0, 0, 0]], "int32")
POSITIONS = np.array([[2, 5, 0], [3, 0, 0]], "int32")
LABELS = np.array([[12, 15, 0], [23, 0, 0]], "int32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_bert_base_has_the_published_parameter_count():
    encoder = BertEncoder.from_preset("bert_base", vocab_size=30522)
    encoder.build()
    assert encoder.count_params() == 109_482_240  # BERT-base uncased, pooler included
    assert (encoder.num_layers, encoder.d_model, encoder.num_heads, encoder.dff) == (
        12,
        768,
        12,
        3072,
    )
    assert (encoder.max_length, encoder.num_segments) == (512, 2)


def test_every_weight_starts_as_berts_truncated_normal_at_0_02():
    # Keras' Glorot default would give a kernel of width 128 a spread near 0.09; BERT's
    # truncated normal (cut at two deviations) has a standard deviation of 0.02 * 0.88.
    keras.utils.set_random_seed(3)
    encoder = BertEncoder.from_preset("bert_tiny", vocab_size=1000)
    encoder.build()
    drawn = [w for w in encoder.weights if w.path.endswith(("/kernel", "/embeddings"))]
    assert len(drawn) == 2 * 6 + 3 + 1  # six kernels a block, three tables, the pooler
    for weight in drawn:
        values = numpy(weight).ravel()
        assert abs(values.std() - 0.02 * 0.8796) < 0.0015, weight.path
        assert np.abs(values).max() <= 0.04 + 1e-6, weight.path
    kernels = [numpy(w).ravel()[:64] for w in drawn]
    assert len({k.tobytes() for k in kernels}) == len(kernels)  # each drawn apart
    for weight in encoder.weights:
        if weight.path.endswith("/bias"):
            assert not numpy(weight).any(), weight.path


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(InputError, match="bert_base, bert_small, bert_tiny"):
        BertEncoder.from_preset("bert_huge", vocab_size=10)


def test_padding_does_not_change_the_real_positions():
    encoder = BertEncoder.from_preset("bert_tiny", vocab_size=VOCAB)
    short = numpy(encoder(IDS[:, :7]))
    padded = numpy(encoder(np.pad(IDS[:, :7], [[0, 0], [0, 6]])))
    np.testing.assert_allclose(padded[0, :7], short[0, :7], atol=1e-5)
    np.testing.assert_allclose(padded[1, :5], short[1, :5], atol=1e-5)


def test_segment_ids_change_the_output():
    encoder = BertEncoder.from_preset("bert_tiny", vocab_size=VOCAB)
    first = numpy(encoder(IDS, segment_ids=np.zeros_like(IDS)))
    second = numpy(encoder(IDS, segment_ids=np.ones_like(IDS)))
    assert not np.allclose(first, second, atol=1e-3)


def test_the_output_projection_is_the_token_embedding_variable():
    model = BertMaskedLM.from_preset("bert_tiny", vocab_size=VOCAB)
    logits = numpy(model({"token_ids": IDS}))
    head = model.head
    hidden = model.encoder(IDS)
    table = model.encoder.token_embedding.embeddings
    expected = numpy(head.layer_norm(head.transform(hidden))) @ numpy(table).T
    np.testing.assert_allclose(logits, expected + numpy(head.output_bias), atol=1e-4)
    # the head owns no (vocab, d_model) matrix: only its transform, LayerNorm and bias
    assert sorted(tuple(w.shape) for w in head.weights) == sorted(
        [(128, 128), (128,), (128,), (128,), (VOCAB,)]
    )
    # a token absent from the input still gets a gradient: through the output projection
    with tf.GradientTape() as tape:
        loss = masked_loss(LABELS, model({"token_ids": IDS, "mask_positions": POSITIONS}))
    gradient = tf.convert_to_tensor(tape.gradient(loss, table))
    assert 50 not in IDS and np.abs(numpy(gradient)[50]).sum() > 0


def test_mlm_loss_is_the_cross_entropy_at_the_masked_positions_only():
    model = BertMaskedLM.from_preset("bert_tiny", vocab_size=VOCAB, dropout=0.0)
    model.compile(loss=masked_loss)
    inputs = {"token_ids": IDS, "mask_positions": POSITIONS}
    all_logits = numpy(model({"token_ids": IDS})).astype("float64")
    log_probs = all_logits - np.log(np.exp(all_logits).sum(-1, keepdims=True))
    by_hand = [
        -log_probs[row, position, label]
        for row in range(len(IDS))
        for position, label in zip(POSITIONS[row], LABELS[row], strict=True)
        if label > 0
    ]
    assert len(by_hand) == 3
    gathered = numpy(model(inputs))
    assert gathered.shape == (2, 3, VOCAB)
    np.testing.assert_allclose(gathered[0, 1], all_logits[0, 5], atol=1e-5)
    assert float(masked_loss(LABELS, gathered)) == pytest.approx(np.mean(by_hand), abs=1e-5)
    evaluated = model.evaluate(inputs, LABELS, verbose=0, return_dict=True)["loss"]
    assert evaluated == pytest.approx(np.mean(by_hand), abs=1e-5)


def test_fine_tuning_starts_from_the_pretrained_encoder():
    pretrained = BertMaskedLM.from_preset("bert_tiny", vocab_size=VOCAB)
    pretrained({"token_ids": IDS})
    assert pretrained.encoder.pooler is None
    config = {**pretrained.encoder.get_config(), "use_pooler": True}
    encoder = BertEncoder.from_config(config)
    encoder.copy_weights_from(pretrained.encoder)
    np.testing.assert_allclose(numpy(encoder(IDS)), numpy(pretrained.encoder(IDS)), atol=1e-6)
    assert encoder.pooler.built  # a fresh pooler for the classifier


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: BertMaskedLM.from_preset("bert_tiny", vocab_size=VOCAB), (2, 3, VOCAB)),
        (
            lambda: BertClassifier.from_preset(
                "bert_tiny", vocab_size=VOCAB, num_classes=3, labels=["a", "b", "c"]
            ),
            (2, 3),
        ),
        (
            lambda: BertClassifier(
                BertEncoder.from_preset("bert_tiny", vocab_size=VOCAB, use_pooler=False),
                num_classes=2,
                pooling="mean",
            ),
            (2, 2),
        ),
        (lambda: BertTokenTagger.from_preset("bert_tiny", vocab_size=VOCAB, num_tags=5), (2, 9, 5)),
        (
            lambda: BertTokenTagger.from_preset(
                "bert_tiny", vocab_size=VOCAB, num_tags=5, head="lstm"
            ),
            (2, 9, 5),
        ),
    ],
)
def test_task_models_round_trip_through_keras_files(tmp_path, make, shape):
    model = make()
    inputs = {"token_ids": IDS, "mask_positions": POSITIONS}
    outputs = numpy(model(inputs))
    assert outputs.shape == shape and outputs.dtype == np.float32
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(numpy(loaded(inputs)), outputs)
    assert loaded.get_config() == model.get_config()


def test_mean_pooling_is_the_mean_of_the_real_tokens_and_ignores_padding():
    encoder = BertEncoder.from_preset("bert_tiny", vocab_size=VOCAB, use_pooler=False)
    model = BertClassifier(encoder, num_classes=3, pooling="mean")
    logits = numpy(model(IDS))
    hidden = numpy(encoder(IDS))
    kernel, bias = (numpy(w) for w in model.classifier.weights)
    for row, ids in enumerate(IDS):
        real = hidden[row][ids != 0]
        np.testing.assert_allclose(logits[row], real.mean(0) @ kernel + bias, atol=1e-5)
    padded = numpy(model(np.pad(IDS, [[0, 0], [0, 4]])))
    np.testing.assert_allclose(padded, logits, atol=1e-5)
    with pytest.raises(ValueError, match="pooling must be one of cls, mean"):
        BertClassifier(encoder, num_classes=3, pooling="max")


def test_the_lstm_tag_head_reads_each_text_both_ways_and_ignores_padding():
    model = BertTokenTagger.from_preset("bert_tiny", vocab_size=VOCAB, num_tags=5, head="lstm")
    logits = numpy(model(IDS))
    hidden = model.encoder(IDS)
    kernel, bias = (numpy(w) for w in model.classifier.weights)
    forward, backward = model.lstms
    for row, ids in enumerate(IDS):
        real = hidden[row : row + 1, : int((ids != 0).sum())]
        # a BiLSTM over the real tokens alone: the backward one from the last of them
        both = np.concatenate(
            [numpy(forward(real))[0], numpy(backward(real[:, ::-1]))[0, ::-1]], axis=-1
        )
        np.testing.assert_allclose(logits[row, : len(both)], both @ kernel + bias, atol=1e-5)
    padded = numpy(model(np.pad(IDS, [[0, 0], [0, 4]])))
    np.testing.assert_allclose(padded[:, : IDS.shape[1]][IDS != 0], logits[IDS != 0], atol=1e-5)
    with pytest.raises(ValueError, match="head must be one of dense, lstm"):
        BertTokenTagger(model.encoder, num_tags=5, head="crf")


def test_a_tagger_reads_each_words_own_features_and_ignores_padding(tmp_path):
    sizes = {"word_vocab_size": 20, "char_vocab_size": 12}
    model = BertTokenTagger.from_preset(
        "bert_tiny", vocab_size=VOCAB, num_tags=5, head="lstm", word_features=sizes
    )
    rng = np.random.default_rng(0)
    words = np.where(IDS > 3, rng.integers(1, 20, size=IDS.shape), 0).astype("int32")
    chars = rng.integers(0, 12, size=(*IDS.shape, 20)) * (words > 0)[..., None]
    inputs = {"token_ids": IDS, "word_ids": words, "char_ids": chars.astype("int32")}
    logits = numpy(model(inputs))
    hidden = numpy(model.encoder(IDS))
    own = numpy(model.word_embedding(words, inputs["char_ids"]))
    forward, _ = model.lstms
    joined = np.concatenate([hidden, own], axis=-1)[:1, : int((IDS[0] != 0).sum())]
    kernel, bias = (numpy(w) for w in model.classifier.weights)
    half = model.encoder.d_model  # the forward LSTM's half of the classifier's input
    partial = logits[0, : joined.shape[1]] - numpy(forward(joined))[0] @ kernel[:half] - bias
    backward = numpy(model.lstms[1](joined[:, ::-1]))[0, ::-1]
    np.testing.assert_allclose(partial, backward @ kernel[half:], atol=1e-4)
    changed = dict(inputs, word_ids=np.where(words == words[0, 1], 19 - words, words))
    assert not np.allclose(numpy(model(changed))[0, 1], logits[0, 1])  # the word id is read
    padded = {k: np.pad(v, [[0, 0], [0, 3]] + [[0, 0]] * (v.ndim - 2)) for k, v in inputs.items()}
    again = numpy(model(padded))[:, : IDS.shape[1]]
    np.testing.assert_allclose(again[IDS != 0], logits[IDS != 0], atol=1e-5)
    model.save(tmp_path / "tagger.keras")
    loaded = keras.models.load_model(tmp_path / "tagger.keras", compile=False)
    assert loaded.get_config()["word_features"] == sizes
    np.testing.assert_allclose(numpy(loaded(inputs)), logits, atol=1e-6)


def test_mixed_bfloat16_gives_finite_float32_logits():
    model = BertClassifier.from_preset(
        "bert_tiny", vocab_size=VOCAB, num_classes=2, dtype="mixed_bfloat16"
    )
    logits = numpy(model(IDS))
    assert logits.dtype == np.float32 and np.all(np.isfinite(logits))
    assert model.encoder.blocks[0].compute_dtype == "bfloat16"


def test_one_fit_step_moves_the_encoder_and_the_head():
    model = BertClassifier.from_preset("bert_tiny", vocab_size=VOCAB, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.build()
    before = [numpy(w).copy() for w in model.trainable_weights]
    model.fit(IDS, np.array([0, 1]), epochs=1, verbose=0)
    moved = [
        not np.allclose(b, numpy(w)) for b, w in zip(before, model.trainable_weights, strict=True)
    ]
    frozen = [w.path for w, m in zip(model.trainable_weights, moved, strict=True) if not m]
    # only the segment table's unused row and the softmax-cancelled key bias may stay put
    assert all("key" in path or "segment" in path for path in frozen), frozen
