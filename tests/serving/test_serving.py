"""What tensorflow_model_server needs beyond loading: warmup records, only ops it links,
batch-first signatures, and answers to hostile input within bounded memory."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.serving.conftest import in_process
from tf_transformer.serving import conformance
from tf_transformer.serving.conformance import ConformanceError, check_export, run_capi
from tf_transformer.serving.export import (
    WARMUP_FILE,
    WARMUP_TEXTS,
    read_warmup,
    write_archive,
)


def test_every_export_writes_warmup_records_that_the_loader_runs(translator, exported):
    requests = read_warmup(os.path.join(exported, WARMUP_FILE))
    assert 0 < len(requests) <= 1000
    assert sorted(name for name, _ in requests) == ["beam_search", "next_token", "serving_default"]
    for name, inputs in requests:
        assert sorted(inputs) == (["prefix", "text"] if name == "next_token" else ["text"])
        assert [t.decode() for t in inputs["text"]] == WARMUP_TEXTS
    answer = run_capi(exported, requests)
    for (name, inputs), served in zip(requests, answer["results"], strict=True):
        texts = [t.decode() for t in inputs["text"]]
        if name == "next_token":
            tokens, probabilities = translator.next_token(texts, inputs["prefix"], 10)
            np.testing.assert_array_equal(served["tokens"], tokens.numpy())
            np.testing.assert_allclose(served["probabilities"], probabilities, atol=1e-5)
            continue
        expected = in_process(translator, texts, beam_size=4 if name == "beam_search" else 1)
        np.testing.assert_array_equal(served["translation"], expected)


def test_the_warmup_file_is_a_tfrecord_of_prediction_logs(exported):
    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(os.path.join(exported, WARMUP_FILE)))
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    assert log.WhichOneof("log_type") == "predict_log"
    request = log.predict_log.request
    assert request.model_spec.name == "translator"
    assert request.inputs["text"].dtype == tf.string.as_datatype_enum
    assert [d.size for d in request.inputs["text"].tensor_shape.dim] == [len(WARMUP_TEXTS)]


def test_the_op_audit_names_an_op_the_server_does_not_link():
    with pytest.raises(ConformanceError, match="op EagerPyFunc runs Python"):
        conformance.audit_ops({"MatMul": "core", "EagerPyFunc": "core"})
    with pytest.raises(ConformanceError, match="op MyCustomOp is neither"):
        conformance.audit_ops({"MatMul": "core", "MyCustomOp": None})
    conformance.audit_ops({"MatMul": "core", "SentencepieceOp": "_sentencepiece_tokenizer.so"})


def _export_module(module, fn, signature, path):
    archive = keras.export.ExportArchive()
    archive.track(module)
    archive.add_endpoint("serving_default", fn, input_signature=signature)
    return write_archive(archive, str(path))


def test_a_python_function_in_the_graph_fails_the_check(tmp_path):
    module = tf.Module()
    module.scale = tf.Variable(2.0)

    def serve(x):
        doubled = tf.py_function(lambda v: v * 2.0, [x], tf.float32)
        return {"y": tf.reshape(doubled, tf.shape(x)) * module.scale}

    path = _export_module(module, serve, [tf.TensorSpec([None], tf.float32)], tmp_path / "m")
    with pytest.raises(ConformanceError, match="op EagerPyFunc runs Python"):
        check_export(path, [("serving_default", {"x": np.ones(2, "float32")})], None)


def test_a_signature_without_a_batch_dimension_fails_the_check(tmp_path):
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    path = _export_module(
        module,
        lambda x: {"y": x * module.scale},
        [tf.TensorSpec([3], tf.float32, name="x")],
        tmp_path / "m",
    )
    with pytest.raises(
        ConformanceError, match=r"serving_default/x: shape \[3\] is not batch-first"
    ):
        check_export(path, [], [])


def test_saved_model_cli_must_read_the_export(tmp_path):
    with pytest.raises(ConformanceError, match="saved_model_cli show --all failed"):
        conformance.saved_model_cli_show(str(tmp_path), ["serving_default"])


# 20 s of hostile batches through the C API: `make test-slow` (CI runs both)
@pytest.mark.slow
def test_hostile_inputs_are_answered_with_bounded_memory(translator, exported):
    """An empty batch, empty strings, 10,000-character strings, invalid UTF-8 and a batch
    of 256: answered, as in process, by a loader process under 2 GB."""
    batches = conformance.hostile_batches()
    assert len(batches["batch of 256"]) == 256 and len(batches["empty batch"]) == 0
    assert max(len(t) for t in batches["10,000 characters"]) >= 10_000

    def answer(texts):
        return {"translation": in_process(translator, list(texts))}

    peak = conformance.check_hostile(exported, "serving_default", "text", answer)
    assert 0 < peak < 2048

    def beam(texts):
        return {"translation": in_process(translator, list(texts), beam_size=4)}

    assert conformance.check_hostile(exported, "beam_search", "text", beam) < 2048
    with pytest.raises(ConformanceError, match="empty strings"):
        conformance.check_hostile(
            exported, "serving_default", "text", lambda t: {"translation": ["x"] * len(t)}
        )
