"""`gpt train` on a user's text file: character and byte tokenizers, the model and optimizer
options, bits per character, samples at each evaluation, and the export of such a run."""

import contextlib
import io
import json
import math
import os

import keras
import numpy as np
import pytest

from pipelines import causal_lm, causal_lm_batches
from pipelines.runs import read_json
from tf_transformer import cli
from tf_transformer.text import load_tokenizer

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

TEXT = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    "It is the east, and Juliet is the sun.\n\n"
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n\n"
) * 12

OPTIONS = [
    "--tokenizer", "char", "--preset", "gpt_tiny", "--num-layers", "1", "--num-heads", "2",
    "--d-model", "32", "--dropout", "0", "--activation", "gelu_tanh", "--initialization",
    "gpt2", "--seq-len", "16", "--batch-size", "4", "--epochs", "2", "--steps-per-epoch", "3",
    "--learning-rate", "3e-3", "--min-learning-rate", "1e-4", "--warmup-steps", "1",
    "--beta2", "0.99", "--weight-decay", "0.05", "--mixed-precision", "float32",
    "--vocab-sample", "2",  # a character vocabulary reads every text all the same
]  # fmt: skip


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    path = root / "input.txt"
    path.write_text(TEXT, encoding="utf-8")
    run_dir = str(root / "run")
    source = f"text:{path},validation=0.2,test=0,by=position"
    served = str(root / "served")
    args = ["gpt", "train", "--source", source, "--run-dir", run_dir, "--export", served]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main([*args, *OPTIONS]) == 0
    (root / "printed.txt").write_text(printed.getvalue())
    return run_dir


def test_a_character_level_export_answers_as_in_process(text_run):
    printed = open(os.path.join(os.path.dirname(text_run), "printed.txt")).read()
    assert "outputs equal the export reloaded in Python" in printed
    assert "(completion) answers as the run's model" in printed  # greedy, against live
    assert "(tokens, probabilities) answers as the run's model" in printed
    assert "op audit:" in printed
    assert os.listdir(os.path.join(os.path.dirname(text_run), "served")) == ["1"]


def test_the_command_line_sets_the_model_and_the_optimizer(text_run):
    config = read_json(text_run, "config.json")
    assert config["tokenizer"] == "char" and config["beta_2"] == 0.99
    assert config["schedule"]["final_learning_rate"] == 1e-4
    model = keras.models.load_model(os.path.join(text_run, "model.keras"), compile=False)
    assert (model.num_layers, model.num_heads, model.d_model, model.dropout) == (1, 2, 32, 0.0)
    assert (model.activation, model.initialization) == ("gelu_tanh", "gpt2")
    characters = sorted(set(TEXT[: round(len(TEXT) * 0.8)]))
    assert load_tokenizer(os.path.join(text_run, "tokenizer")).vocab_size == 5 + len(characters)


def test_bits_per_character_are_the_validation_nats_over_its_characters(text_run):
    metrics = read_json(text_run, "metrics.json")
    validation = TEXT[round(len(TEXT) * 0.8) :]
    assert metrics["validation_characters"] == len(validation)
    assert metrics["validation_tokens"] == len(validation) + 1  # a character a token, and [END]
    # the loss, computed here from the saved model over every window of the validation text
    model = keras.models.load_model(os.path.join(text_run, "model.keras"), compile=False)
    tokenizer = load_tokenizer(os.path.join(text_run, "tokenizer"))
    stream = causal_lm_batches.token_stream([validation], tokenizer)
    count = (len(stream) - 1) // 16
    x = np.stack([stream[i * 16 : i * 16 + 16] for i in range(count)])
    y = np.stack([stream[i * 16 + 1 : i * 16 + 17] for i in range(count)])
    logits = np.asarray(model(x), "float64")
    logits -= logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    loss = -np.take_along_axis(log_probs, y[..., None], -1).mean()
    assert metrics["validation_loss"] == pytest.approx(loss, rel=1e-4)
    expected = loss * len(stream) / len(validation) / math.log(2)
    assert metrics["bits_per_character"] == pytest.approx(expected, rel=1e-4)
    assert metrics["validation_perplexity"] == pytest.approx(math.exp(loss), rel=1e-4)


def test_samples_start_from_the_validation_text(text_run, capsys):
    metrics = read_json(text_run, "metrics.json")
    first_lines = [line for line in TEXT[round(len(TEXT) * 0.8) :].splitlines() if line.strip()]
    assert list(metrics["samples"]) == [" ".join(line.split()[:3]) for line in first_lines[:2]]
    history = read_json(text_run, "history.json")
    assert len(history["val_loss"]) == 2


def test_a_byte_level_run_and_its_export_answer_as_in_process(tmp_path, capsys):
    path = tmp_path / "input.txt"
    path.write_text(TEXT.replace("Romeo", "Roméo 🙂"), encoding="utf-8")
    run_dir = str(tmp_path / "run")
    options = [o if o != "char" else "byte" for o in OPTIONS]
    source = f"text:{path},validation=0.2,test=0,by=position"
    args = ["gpt", "train", "--source", source, "--run-dir", run_dir, *options]
    assert cli.main([*args, "--export", str(tmp_path / "served")]) == 0
    out = capsys.readouterr().out
    assert "bits a character" in out
    assert "(completion) answers as the run's model" in out  # greedy, against live
    prompt = read_json(run_dir, "config.json")["examples"][0]
    assert f'"instances": ["{prompt}"]' in out  # the curl example: the validation text's
    assert prompt in path.read_text(encoding="utf-8")[round(len(path.read_text()) * 0.8) - 20 :]
    metrics = read_json(run_dir, "metrics.json")
    validation = path.read_text(encoding="utf-8")[
        round(len(TEXT.replace("Romeo", "Roméo 🙂")) * 0.8) :
    ]
    assert metrics["validation_tokens"] == len(validation.encode("utf-8")) + 1
    assert metrics["tokenizer_vocab_size"] == 5 + 256


@pytest.mark.parametrize(
    "option, message",
    [
        (["--learning-rate", "0"], "--learning-rate must be more than 0"),
        (["--d-model", "30", "--num-heads", "4"], "width 30 is not a multiple of the heads 4"),
        (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
        (["--beta2", "1"], "--beta2 must be in [0, 1)"),
        (["--min-learning-rate", "0.1"], "--min-learning-rate must be in [0, --learning-rate]"),
        (["--num-layers", "0"], "--num-layers must be at least 1"),
    ],
)
def test_bad_model_options_exit_2_before_writing_anything(
    tmp_path, monkeypatch, capsys, option, message
):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["gpt", "train", "--preset", "gpt_tiny", *option]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "runs")


def test_bits_per_character_formula():
    figures = causal_lm.validation_figures(2.0, 150, 100)
    assert figures["bits_per_character"] == pytest.approx(2.0 * 150 / 100 / math.log(2))
    assert json.loads(json.dumps(figures)) == figures


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty corpus"), (b"fine\n\x89PNG\r\n\x1a\n\x00\xff", ":2: invalid UTF-8")],
    ids=["empty", "binary"],
)
def test_bad_text_files_exit_2_naming_the_file_and_nothing_is_written(
    tmp_path, monkeypatch, capsys, content, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "input.txt").write_bytes(content)
    source = "text:input.txt,validation=0.1,test=0,by=position"
    assert cli.main(["gpt", "train", "--source", source, "--tokenizer", "char"]) == 2
    err = capsys.readouterr().err.strip()
    assert "input.txt" in err and message in err and len(err.splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["input.txt"]
