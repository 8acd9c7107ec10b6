import json
import os

import keras
import numpy as np
import pytest

from pipelines import translation
from pipelines.corpora import load_corpus
from tf_transformer import cli
from tf_transformer.training import precision

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow

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


LOG = []


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The default `--mixed-precision auto`, on a CPU faked to have AVX2 only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision, "cpu_flags", lambda: {"avx", "avx2", "fma"})
        patch.setattr(precision, "_accelerators", lambda: [])
        patch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        return translation.train(
            CONFIG, str(tmp_path_factory.mktemp("runs") / "run"), log=LOG.append
        )


def test_auto_precision_is_said_once_and_recorded(run_dir):
    reason = "auto: the CPU has AVX2 but no native bfloat16 (no amx_bf16 or avx512_bf16 flag)"
    assert [line for line in LOG if line.startswith("precision:")] == [
        f"precision: float32 ({reason})"
    ]
    with open(os.path.join(run_dir, "config.json")) as handle:
        config = json.load(handle)
    assert config["run"]["mixed_precision"] == "auto"
    assert config["precision"] == {"policy": "float32", "reason": reason}
    assert translation.load_run(run_dir)[0].model.dtype_policy.name == "float32"


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


def test_the_schedule_cools_down_over_the_runs_last_fifth(run_dir):
    """2 epochs of 3 steps: the last round(0.2 * 6) = 1 step cools down (it gets half the
    rate), said and recorded; the asked warm-up of 10 steps is cut to end before it (5),
    at the recorded peak, the one 10 steps have; the saved optimizer's schedule is the one
    the run used."""
    assert "cool-down: the rate falls linearly toward 0 over the last 1 steps" in LOG
    with open(os.path.join(run_dir, "config.json")) as handle:
        schedule = json.load(handle)["schedule"]
    assert (schedule["total_steps"], schedule["cooldown_steps"]) == (6, 1)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    rate = model.optimizer._learning_rate
    assert (rate.total_steps, rate.cooldown_steps, rate.warmup_steps) == (6, 1, 5)
    peak = schedule["peak_learning_rate"]
    assert peak == pytest.approx((32 * 10) ** -0.5)
    assert float(rate(4)) == pytest.approx(peak, rel=1e-5)  # step 5 ends the warm-up
    # the last step (6) gets half the warm-up's shape there; past the run, 0
    assert float(rate(5)) == pytest.approx(peak * (5 / 6) ** 0.5 / 2, rel=1e-5)
    assert float(rate(6)) == 0.0


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


def test_eval_scores_any_parallel_corpus(run_dir, tmp_path, capsys):
    """`translate eval --source` scores the user's own test file, not the run's corpus."""
    train = tmp_path / "train.tsv"
    train.write_text("unused\tunused\n")
    test = tmp_path / "test.tsv"
    test.write_text("".join(f"{i} kilometers\t{i} quilômetros\n" for i in range(7)))
    spec = f"tsv:train={train},validation={train},test={test}"
    assert cli.main(["translate", "eval", run_dir, "--source", spec, "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert f"{spec} test (7 pairs, beam 2): BLEU " in out
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert (metrics["source"], metrics["pairs"], metrics["beam_size"]) == (spec, 7, 2)
    assert metrics["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert metrics["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0")
    assert cli.main(["translate", "eval", run_dir, "--source", "cldr-langid"]) == 2
    assert "a classification corpus; translation needs pairs" in capsys.readouterr().err


def test_cli_translate_text_and_export(run_dir, tmp_path, capsys):
    assert cli.main(["translate", "text", run_dir, "3 kilometers", "", "--beam", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("3 kilometers\t")
    model_dir = str(tmp_path / "translator")
    assert cli.main(["translate", "export", run_dir, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "conformance check passed" in out and "docker run" in out
    assert "serving_default on 5 inputs (translation) answers as the run's model" in out
    assert out.count("(tokens, probabilities) answers as the run's model") == 2  # next_token
    with open(os.path.join(run_dir, "config.json")) as handle:
        example = json.load(handle)["examples"][0]
    assert example in [s for s, _ in load_corpus(CONFIG.source, size=CONFIG.corpus_size).validation]
    assert f'curl -d \'{{"instances": ["{example}"]}}\'' in out  # a source of its validation
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
    assert f"{tmp_path}: an empty directory" in capsys.readouterr().err
    assert cli.main(["translate", "train", "--epochs", "0"]) == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
    assert cli.main(["translate", "train", "--preset", "huge", "--corpus-size", "200"]) == 2
    assert "unknown Transformer preset 'huge'" in capsys.readouterr().err
    assert cli.main(["translate", "train", "--cooldown", "1.5", "--corpus-size", "200"]) == 2
    assert capsys.readouterr().err.strip() == (
        "tf-transformer: error: --cooldown is a fraction of the run's steps, 0 to 1; got 1.5"
    )
    assert cli.main(["translate", "train", "--no-bucket", "--batch-tokens", "512"]) == 2
    assert "--batch-tokens fills bucketed batches" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "runs")


def test_unbucketed_batches_are_random_pairs_padded_to_their_longest(tmp_path):
    """`--no-bucket`: batch_size pairs a batch in any mix of lengths, as the tutorial."""
    config = translation.TranslateConfig(**{**vars(CONFIG), "steps_per_epoch": None})
    corpus = translation.load_corpus(config.source, seed=0, size=config.corpus_size)
    tokenizers = translation._run_tokenizers(config, corpus, str(tmp_path))
    unbucketed = translation.TranslateConfig(**{**vars(config), "bucket": False})
    make, _, steps = translation._datasets(unbucketed, corpus, tokenizers, print)
    assert steps == -(-corpus.size("train") // 16)
    spreads = []
    for (source, target), _ in make():
        assert source.shape[0] == 16 or source.shape[0] == corpus.size("train") % 16
        longer = np.maximum((source.numpy() != 0).sum(1), (target.numpy() != 0).sum(1))
        spreads.append(longer.max() - longer.min())
    # the lengths bucketing groups by (the longer side) spread at most 8 in a bucket (the
    # widest, up to 9 tokens): random batches spread wider
    assert np.median(spreads) > 8


def test_paper_presets_learn_one_shared_vocabulary(tmp_path):
    """`paper_base` ties one vocabulary (shrunk here to stay quick: the preset's sharing is
    what is under test); `--no-shared-vocab` gives two tokenizers and untied layers."""
    small = {"num_layers": 1, "d_model": 32, "num_heads": 2, "dff": 64}
    config = translation.TranslateConfig(
        **{**vars(CONFIG), "preset": "paper_base", "overrides": small, "epochs": 1}
    )
    run_dir = translation.train(config, str(tmp_path / "shared"), log=lambda _: None)
    translator, _ = translation.load_run(run_dir)
    assert translator.model.share_embeddings
    source, target = (
        (tmp_path / "shared" / "tokenizers" / side / "sentencepiece.model").read_bytes()
        for side in ("source", "target")
    )
    assert source == target
    pieces = [p.decode() for p in translator.source_tokenizer.vocab.numpy().tolist()]
    assert any("ç" in piece or "á" in piece for piece in pieces)  # learned on Portuguese too
    separate = translation.TranslateConfig(**{**vars(config), "shared_vocab": False})
    run_dir = translation.train(separate, str(tmp_path / "separate"), log=lambda _: None)
    assert not translation.load_run(run_dir)[0].model.share_embeddings


def test_a_streamed_corpus_of_aligned_files_trains_and_evaluates(tmp_path):
    """Aligned files go through the recipe streamed: vocabulary from a bounded sample,
    training from `tf.data` line datasets, evaluation of the test files."""
    from pipelines.corpora import cldr

    pairs = cldr.parallel_pairs("en", "pt", size=900, seed=1)
    for stem, chunk in (("train", pairs[:800]), ("val", pairs[800:850]), ("test", pairs[850:])):
        for side, language in enumerate(("en", "pt")):
            (tmp_path / f"{stem}.{language}").write_text("".join(p[side] + "\n" for p in chunk))
    log = []
    config = translation.TranslateConfig(
        **{**vars(CONFIG), "source": f"lines:en-pt:{tmp_path}", "vocab_sample": 300}
    )
    run_dir = translation.train(config, str(tmp_path / "run"), log=log.append)
    assert any("(parallel, streamed): train 800, validation 50, test 50" in line for line in log)
    metrics = translation.evaluate(run_dir)
    assert metrics["pairs"] == 50 and metrics["source"] == config.source


def test_cli_explain_with_a_reference(run_dir, tmp_path, capsys):
    page = str(tmp_path / "page.html")
    argv = ["translate", "explain", run_dir, "Saturday, June 9, 1984", "--out", page]
    assert cli.main([*argv, "--reference", "sábado, 9 de junho de 1984"]) == 0
    assert "check passed" in capsys.readouterr().out
    with open(page, encoding="utf-8") as handle:
        html = handle.read()
    assert "sábado, 9 de junho de 1984" in html and '"reference":{"ids"' in html
