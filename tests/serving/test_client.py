import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from tests.serving.conftest import in_process
from tests.serving.fake_tf_serving import FakeServer
from tf_transformer import cli
from tf_transformer.serving.client import (
    GrpcClient,
    RestClient,
    ServingError,
    predict_body,
    predict_request,
)
from tf_transformer.serving.model_config import model_config_text, write_model_config

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(exported):
    fake = FakeServer(exported, "translator")
    fake.start_rest()
    fake.start_grpc()
    yield fake
    fake.stop()


def test_rest_bodies_follow_the_documented_formats():
    assert predict_body(["a", "b"]) == {"instances": ["a", "b"]}
    assert predict_body([{"text": "a"}], signature="beam_search") == {
        "signature_name": "beam_search",
        "instances": [{"text": "a"}],
    }
    assert predict_body({"text": ["a", "b"]}, columnar=True) == {"inputs": {"text": ["a", "b"]}}
    body = predict_body({"prompt": ["x"], "seed": np.array([3], "int32")}, columnar=True)
    assert json.loads(json.dumps(body)) == {"inputs": {"prompt": ["x"], "seed": [3]}}
    assert predict_body([b"\xff\x00"]) == {"instances": [{"b64": "/wA="}]}
    with pytest.raises(ValueError, match="columnar"):
        predict_body({"text": ["a"]})


def test_rest_client_row_and_columnar_answers_equal_in_process(server, translator):
    client = RestClient(server.rest_url, "translator")
    assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
    assert set(client.metadata()["metadata"]["signature_def"]["signature_def"]) >= {
        "serving_default",
        "beam_search",
    }
    texts = ["Saturday, June 9, 1984", ""]
    rows = client.predict(texts)
    assert rows == [t.decode() for t in in_process(translator, texts)]
    columns = client.predict({"text": texts}, signature="beam_search", columnar=True)
    assert columns == [t.decode() for t in in_process(translator, texts, beam_size=4)]
    assert client.predict([b"3 kilometers"]) == [
        in_process(translator, ["3 kilometers"])[0].decode()
    ]


def test_rest_client_surfaces_the_server_error(server):
    client = RestClient(server.rest_url, "translator")
    with pytest.raises(ServingError, match='signature name: "nope" not found'):
        client.predict(["x"], signature="nope")
    with pytest.raises(ServingError, match="Servable not found"):
        RestClient(server.rest_url, "no_such_model").status()
    with pytest.raises(ServingError, match="cannot reach"):
        RestClient("http://127.0.0.1:9", "translator", timeout=5).status()


def test_grpc_requests_round_trip_through_the_proto_serializer():
    inputs = {"prompt": ["é", b"\xff"], "seed": np.array([1, 2], "int32")}
    request = predict_request("gpt", inputs, "generate", 3)
    parsed = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    assert parsed == request
    assert (parsed.model_spec.name, parsed.model_spec.signature_name) == ("gpt", "generate")
    assert parsed.model_spec.version.value == 3
    assert list(parsed.inputs["prompt"].string_val) == ["é".encode(), b"\xff"]
    seed = tf.make_ndarray(parsed.inputs["seed"])
    assert seed.dtype == np.int32 and seed.tolist() == [1, 2]


def test_grpc_client_answers_equal_in_process(server, translator):
    client = GrpcClient(server.grpc_target, "translator")
    texts = ["Saturday, June 9, 1984", "3 kilometers"]
    outputs = client.predict({"text": texts})
    np.testing.assert_array_equal(outputs["translation"], in_process(translator, texts))
    beam = client.predict({"text": texts}, signature="beam_search")
    np.testing.assert_array_equal(beam["translation"], in_process(translator, texts, 4))
    with pytest.raises(ServingError, match="not found"):
        client.predict({"text": texts}, signature="nope")
    client.close()


def test_request_command_over_rest_and_grpc(server, translator, capsys):
    expected = in_process(translator, ["3 kilometers"])[0].decode()
    for extra in ([], ["--columnar"]):
        argv = ["serving", "request", "--url", server.rest_url, "--model", "translator"]
        assert cli.main([*argv, *extra, "3 kilometers"]) == 0
        assert (
            capsys.readouterr().out.strip()
            == f"3 kilometers\t{json.dumps(expected, ensure_ascii=False)}"
        )
    argv = ["serving", "request", "--grpc", "--url", server.grpc_target, "--model", "translator"]
    assert cli.main([*argv, "3 kilometers"]) == 0
    assert json.loads(capsys.readouterr().out.split("\t")[1]) == {"translation": expected}
    argv = ["serving", "request", "--url", server.rest_url, "--model", "translator"]
    assert cli.main([*argv, "--signature", "nope", "x"]) == 2
    assert "the server answered" in capsys.readouterr().err
    sent = len(server.requests)
    assert cli.main([*argv, "a", "b", "--pair", "c"]) == 2  # pairs: one --pair a text
    assert "give one --pair for each text (2 texts, 1 --pair)" in capsys.readouterr().err
    assert len(server.requests) == sent  # refused before anything was sent


def parse_config(text):
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


def test_serving_config_lists_exactly_the_exported_models(exported, tmp_path, capsys):
    root = tmp_path / "saved_models"
    os.makedirs(root / "translator")
    os.symlink(exported, root / "translator" / "1")
    os.makedirs(root / "half_written" / ".1-incomplete-x")  # no complete version
    assert cli.main(["serving", "config", "--root", str(root)]) == 0
    config = parse_config((root / "models.config").read_text())
    entries = config.model_config_list.config
    assert [(e.name, e.base_path, e.model_platform) for e in entries] == [
        ("translator", "/models/translator", "tensorflow")
    ]
    assert "--model_config_file=/models/models.config" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["serving", "config", "--root", str(empty)]) == 2
    assert not (empty / "models.config").exists()
    with pytest.raises(Exception, match="no exported model"):
        write_model_config(str(empty))


def test_the_committed_models_config_serves_every_family():
    config = parse_config((ROOT / "saved_models" / "models.config").read_text())
    names = [entry.name for entry in config.model_config_list.config]
    assert names == ["classifier", "fill_mask", "gpt", "tagger", "translator"]
    assert (ROOT / "saved_models" / "models.config").read_text() == model_config_text(names)
