import json
import os

import pytest

from pipelines import translation
from tf_transformer import cli

CONFIG = translation.TranslateConfig(
    preset="tiny",
    epochs=2,
    steps_per_epoch=3,
    batch_size=16,
    max_tokens=16,
    vocab_size=400,
    warmup_steps=10,
    corpus_size=1500,
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return translation.train(CONFIG, str(tmp_path_factory.mktemp("runs") / "run"))


def test_training_writes_the_run_directory(run_dir):
    for name in ("config.json", "model.keras", "history.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert os.path.isfile(os.path.join(run_dir, "tokenizers", "source", "sentencepiece.model"))
    assert os.path.isfile(os.path.join(run_dir, "checkpoints", "best.weights.h5"))
    assert any(name.startswith("events") for _, _, files in os.walk(run_dir) for name in files)
    with open(os.path.join(run_dir, "config.json")) as handle:
        assert json.load(handle)["preset"] == "tiny"
    with open(os.path.join(run_dir, "history.json")) as handle:
        assert len(json.load(handle)["loss"]) == 2


def test_evaluate_reports_bleu_chrf_exact_match_and_plots_attention(run_dir):
    metrics = translation.evaluate(run_dir, limit=40)
    assert metrics["pairs"] == 40
    assert 0.0 <= metrics["bleu"] <= 100.0 and 0.0 <= metrics["chrf"] <= 100.0
    assert 0.0 <= metrics["exact_match"] <= 1.0
    assert len(metrics["samples"]) == 5
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        assert json.load(handle)["pairs"] == 40
    with open(os.path.join(run_dir, "attention.png"), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_cli_translate_text_and_export(run_dir, tmp_path, capsys):
    assert cli.main(["translate", "text", run_dir, "3 kilometers", "", "--beam", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("3 kilometers\t")
    model_dir = str(tmp_path / "translator")
    assert cli.main(["translate", "export", run_dir, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "conformance check passed" in out and "docker run" in out
    assert os.listdir(model_dir) == ["1"]
    # both SentencePiece models travel with the export
    assets = os.listdir(os.path.join(model_dir, "1", "assets"))
    assert sorted(assets) == ["source_sentencepiece.model", "target_sentencepiece.model"]


def test_cli_errors_exit_2_without_traceback_or_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["translate", "train", "--source", "cldr:en-zz", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "tf-transformer: error: cldr:en-zz: unknown CLDR locale 'zz'"
    assert not os.path.exists(tmp_path / "runs")
    assert cli.main(["translate", "eval", str(tmp_path)]) == 2
    assert "not a trained translation run" in capsys.readouterr().err
    assert cli.main(["translate", "train", "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert cli.main(["translate", "train", "--preset", "huge", "--corpus-size", "200"]) == 2
    assert "unknown Transformer preset 'huge'" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "runs")
