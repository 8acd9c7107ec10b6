import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from pipelines import causal_lm
from tf_transformer import cli
from tf_transformer.serving import conformance

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

CONFIG = causal_lm.GPTConfig(
    preset="gpt_tiny",
    epochs=2,
    steps_per_epoch=3,
    seq_len=32,
    vocab_size=500,
    warmup_steps=2,
    mixed_precision="float32",
)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return causal_lm.train(CONFIG, str(tmp_path_factory.mktemp("runs") / "gpt"))


def test_run_directory_and_perplexity(run_dir):
    for name in ("config.json", "model.keras", "history.json", "metrics.json"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert metrics["validation_perplexity"] == pytest.approx(math.exp(metrics["validation_loss"]))
    with open(os.path.join(run_dir, "history.json")) as handle:
        history = json.load(handle)
    assert len(history["val_perplexity"]) == 2
    assert history["val_perplexity"][-1] == pytest.approx(
        math.exp(history["val_loss"][-1]), rel=1e-5
    )


def test_cli_generate_is_reproducible_with_a_seed(run_dir, capsys):
    args = ["gpt", "generate", run_dir, "Return the", "", "--max-new-tokens", "8", "--seed", "4"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert cli.main(args) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("Return the\t")  # prompt, tab, completion (which may hold newlines)


def test_cli_export_passes_the_conformance_check(run_dir, tmp_path, capsys):
    model_dir = str(tmp_path / "gpt")
    assert cli.main(["gpt", "export", run_dir, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "ran next_token on 5 inputs: outputs equal the export reloaded in Python" in out
    assert "generate on 5 inputs (completion) answers as the run's model" in out
    assert "next_token on 5 inputs (tokens, probabilities) answers as the run's model" in out
    with open(os.path.join(run_dir, "config.json")) as handle:
        prompts = json.load(handle)["examples"]
    assert prompts == causal_lm.SAMPLE_PROMPTS  # pydocs' own, as the run's samples
    assert f'curl -d \'{{"instances": ["{prompts[0]}"]}}\'' in out  # the run's own prompt
    assert "signature serving_default: (prompt: string[-1]) -> (completion: string[-1])" in out
    assert os.listdir(model_dir) == ["1"]


def test_export_answers_hostile_input_as_in_process(run_dir, tmp_path):
    generator, _ = causal_lm.load_run(run_dir)
    path = causal_lm.export_runner(generator, str(tmp_path / "gpt"))
    complete = tf.function(generator.complete, input_signature=[tf.TensorSpec([None], tf.string)])

    def answer(texts):
        return {"completion": complete(tf.constant(list(texts), tf.string)).numpy()}

    assert conformance.check_hostile(path, "serving_default", "prompt", answer) < 2048

    def options(rows):  # per-row options of the `generate` signature
        return {
            "max_new_tokens": np.full(rows, 6, "int32"),
            "temperature": np.linspace(0.0, 1.0, rows).astype("float32"),
            "top_k": np.full(rows, 10, "int32"),
            "top_p": np.full(rows, 0.9, "float32"),
            "seed": np.arange(rows, dtype="int32"),
        }

    def generate(texts):
        strings = tf.constant(list(texts), tf.string)
        return {"completion": generator.complete(strings, **options(len(texts))).numpy()}

    peak = conformance.check_hostile(path, "generate", "prompt", generate, other_inputs=options)
    assert peak < 2048


def test_bad_sampling_options_exit_2(run_dir):
    result = subprocess.run(
        [sys.executable, "-m", "tf_transformer", "gpt", "generate", run_dir, "x", "--top-p", "0"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "tf-transformer: error: --top-p must be in (0, 1], got 0.0"


def test_bad_training_options_exit_2_before_writing_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["gpt", "train", "--preset", "gpt5"]) == 2
    assert "unknown GPT preset 'gpt5'" in capsys.readouterr().err
    assert cli.main(["gpt", "train", "--preset", "gpt_tiny", "--seq-len", "4096"]) == 2
    assert "exceeds gpt_tiny's context 128" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "runs")


def test_cli_explain_writes_one_page_and_refuses_a_text_over_the_length(run_dir, capsys):
    page = os.path.join(run_dir, "explain-def-main.html")
    assert cli.main(["gpt", "explain", run_dir, "def main"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {page}" in out and "check passed" in out
    with open(page, encoding="utf-8") as handle:
        assert '<meta name="generator" content="tf-transformer explain">' in handle.read(2048)
    assert cli.main(["gpt", "explain", run_dir, "def main"]) == 0  # its own page: rewritten
    before = sorted(os.listdir(run_dir))
    long = " ".join(["return"] * 200)
    assert cli.main(["gpt", "explain", run_dir, long]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tf-transformer: error: the prompt is") and "--seq-len 128" in err
    assert sorted(os.listdir(run_dir)) == before  # nothing written
    assert cli.main(["gpt", "explain", run_dir, long, "--seq-len", "16", "--out", page]) == 0
