"""The BERT recipes end to end on tiny budgets: pretrain on pydocs, fine-tune for
classification and tagging, predict, export and check through the C API."""

import json
import math
import os

import numpy as np
import pytest
from seqeval.metrics.sequence_labeling import get_entities

from pipelines import finetuning, finetuning_reports, masked_lm
from pipelines.corpora import load_corpus
from tests.serving.fake_tf_serving import FakeServer
from tf_transformer import cli
from tf_transformer.cli.common import run_examples
from tf_transformer.errors import InputError
from tf_transformer.serving import conformance
from tf_transformer.serving.client import strings
from tf_transformer.serving.conformance import check_export
from tf_transformer.serving.live_check import compare_all

# end-to-end runs: `make test-slow` (with `make test`, in `.ci/run`)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    config = masked_lm.PretrainConfig(
        preset="bert_tiny",
        epochs=3,
        steps_per_epoch=100,
        vocab_size=2000,
        vocab_sample=1500,  # of pydocs' 6,368 training texts: the vocabulary in a quarter the time
        learning_rate=1e-3,
        warmup_steps=50,
        seq_len=64,
        mixed_precision="float32",
    )
    return masked_lm.pretrain(config, str(tmp_path_factory.mktemp("bert") / "pretrain"))


@pytest.fixture(scope="module")
def classifier_run(pretrained, tmp_path_factory):
    config = finetuning.FinetuneConfig(
        task="classify",
        from_run=pretrained,
        epochs=2,
        steps_per_epoch=80,
        learning_rate=1e-3,
        mixed_precision="float32",
        # in 160 steps BERT's fresh pooler on the masked LM's [CLS] barely moves (22% on
        # cldr-langid, 47% from random weights); the tokens' mean learns from both (53%, 52%)
        pooling="mean",
        truncate="head+tail",  # the export cuts long texts as training did (checked below)
    )
    return finetuning.finetune(config, str(tmp_path_factory.mktemp("bert") / "classify"))


@pytest.fixture(scope="module")
def tagger_run(pretrained, tmp_path_factory):
    config = finetuning.FinetuneConfig(
        task="tag",
        source="cldr-tags",
        from_run=pretrained,
        epochs=2,
        steps_per_epoch=80,
        learning_rate=1e-3,
        compare_scratch=False,
        mixed_precision="float32",
    )
    return finetuning.finetune(config, str(tmp_path_factory.mktemp("bert") / "tag"))


def read(run_dir, name):
    with open(os.path.join(run_dir, name)) as handle:
        return json.load(handle)


def test_pretraining_loss_falls_on_pydocs(pretrained):
    history = read(pretrained, "history.json")
    metrics = read(pretrained, "metrics.json")
    vocab = metrics["tokenizer_vocab_size"]
    # from about ln(vocab) (uniform guessing) to clearly below it within 300 steps
    assert history["loss"][0] > history["loss"][-1] + 0.5
    assert metrics["validation_loss"] < math.log(vocab) - 1.0
    assert metrics["validation_perplexity"] == pytest.approx(math.exp(metrics["validation_loss"]))
    assert len(history["val_perplexity"]) == 3
    fills = metrics["samples"][masked_lm.FILL_MASK_EXAMPLE]
    assert len(fills) == 2 and all(len(tokens) == 5 for tokens in fills)


def test_classifier_reports_both_starts_and_a_confusion_matrix(classifier_run):
    metrics = read(classifier_run, "metrics.json")
    assert set(metrics) == {"pretrained", "scratch"}
    for report in metrics.values():
        matrix = np.array(report["confusion_matrix"])
        assert matrix.shape == (12, 12) and matrix.sum() == report["examples"] > 1000
        assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
        assert report["accuracy"] > 0.3  # 12 languages: chance is 0.08
        assert report["split"] == "test" and report["validation"]["split"] == "validation"
        validation = np.array(report["validation"]["confusion_matrix"])
        assert validation.sum() == report["validation"]["examples"] > 1000
    assert os.path.getsize(os.path.join(classifier_run, "confusion_matrix.png")) > 10_000
    assert os.path.isfile(os.path.join(classifier_run, "confusion_matrix_validation.png"))
    assert os.path.isfile(os.path.join(classifier_run, "scratch", "model.keras"))
    config = read(classifier_run, "config.json")
    assert config["seq_len"] == 64 and config["preset"] == "bert_tiny"  # from the pretraining


def test_tagger_reports_per_tag_and_macro_f1(tagger_run):
    metrics = read(tagger_run, "metrics.json")
    assert set(metrics) == {"pretrained"}
    report = metrics["pretrained"]
    scored = [tag for tag, s in report["per_label"].items() if tag != "O" and s["support"]]
    assert report["macro_f1"] == pytest.approx(
        np.mean([report["per_label"][tag]["f1"] for tag in scored])
    )
    assert report["macro_f1"] > 0.5


def test_tagging_report_counts_words():
    truth = [["O", "DAY", "MONTH"], ["YEAR", "O"]]
    predicted = [["O", "DAY", "DAY"], ["YEAR"]]  # the last word untagged (cut off)
    report = finetuning_reports.tagging_report(
        truth, predicted, ["O", "DAY", "MONTH", "YEAR"], log=lambda line: None
    )
    day = report["per_label"]["DAY"]
    assert (day["precision"], day["recall"], day["f1"]) == (0.5, 1.0, pytest.approx(2 / 3))
    assert report["per_label"]["MONTH"]["f1"] == 0.0
    assert report["per_label"]["O"]["recall"] == 0.5
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_classification_report_has_accuracy_and_macro_f1():
    truth = ["pos", "pos", "pos", "neg", "neg", "mixed"]
    predicted = ["pos", "pos", "neg", "neg", "pos", "pos"]
    report = finetuning_reports.classification_report(
        truth, predicted, ["mixed", "neg", "pos"], log=lambda line: None, split="validation"
    )
    assert report["accuracy"] == pytest.approx(3 / 6)
    # F1: pos 2*2/(4+3), neg 2*1/(2+2), mixed 0 (never predicted)
    assert report["macro_f1"] == pytest.approx((4 / 7 + 1 / 2 + 0) / 3)
    assert report["split"] == "validation"
    assert report["confusion_matrix"] == [[0, 0, 1], [0, 1, 1], [0, 1, 2]]


def test_train_limit_is_a_stable_subset_inside_larger_ones():
    def train_of(limit):
        config = finetuning.FinetuneConfig(task="classify", train_limit=limit, seq_len=32)
        return finetuning._read(config)[1].train

    whole, small, large = train_of(None), train_of(40), train_of(400)
    assert len(small) == 40 and len(large) == 400
    assert small == train_of(40) and set(small) <= set(large) <= set(whole)
    assert small != whole[:40]  # not the file's first rows: a hash picks them


def test_fill_mask_answers_edge_cases_in_process(pretrained):
    predictor, config = finetuning.load_run(pretrained)
    assert config["task"] == "pretrain"
    none = predictor.predict(["no mask here", ""])
    assert none["tokens"].shape == (2, 0, 5) and none["scores"].shape == (2, 0, 5)
    out = predictor.predict(["a [MASK] b [MASK] c", "[MASK]", "x " * 5000 + "[MASK]"])
    assert out["tokens"].shape == (3, 2, 5)
    scores = out["scores"]
    assert np.all(scores[0] > 0) and np.all(np.diff(scores[0], axis=-1) <= 0)  # best first
    assert np.all(out["tokens"][1, 1] == b"") and np.all(scores[1, 1] == 0)  # one mask only
    assert np.all(out["tokens"][2] == b"")  # its mask is past the cut to 64 tokens


@pytest.mark.parametrize("run", ["pretrained", "classifier_run", "tagger_run"])
def test_exports_pass_the_conformance_check(run, request, tmp_path):
    run_dir = request.getfixturevalue(run)
    predictor, config = finetuning.load_run(run_dir)
    examples = run_examples(run_dir)
    path = finetuning.export_runner(predictor, str(tmp_path / "model"), warmup=examples)
    requests, lives = finetuning.conformance_requests(predictor, examples)
    report = check_export(path, requests)  # the C API against the reload
    assert report.warmup_requests == 1 and requests[0][1]["text"][:1] == examples[:1]
    lines = compare_all(requests, report.reference, lives, predictor.model)  # against live
    assert lines[0].startswith("serving_default on 7 inputs") and "float32" in lines[0]
    assert conformance.check_hostile(path, "serving_default", "text", predictor.predict) < 2048
    signature = report.signatures["serving_default"]
    assert list(signature["inputs"]) == ["text"]
    outputs = {
        "pretrain": {"tokens", "scores"},
        "classify": {"label", "probabilities"},
        "tag": {"tokens", "tags"},
    }[config["task"]]
    assert set(signature["outputs"]) == outputs
    served = report.compared[0][2]
    texts = requests[0][1]["text"]
    if config["task"] == "classify":
        assert served["probabilities"].shape == (len(texts), 12)
        np.testing.assert_allclose(served["probabilities"].sum(1), 1.0, atol=1e-5)
    if config["task"] == "tag":
        words = [text.split() for text in texts]
        assert served["tokens"].shape == (len(texts), max(len(w) for w in words))
        tags = [[t.decode() for t in row if t] for row in served["tags"]]
        # every word is tagged, the 4,000 of the longest text too (read in windows)
        assert [len(t) for t in tags] == [len(w) for w in words]
        assert set(t for row in tags for t in row) <= set(load_corpus("cldr-tags").labels)


def test_predict_command_prints_one_line_per_text(classifier_run, tagger_run, capsys):
    assert cli.main(["bert", "predict", classifier_run, "Samstag, 9. Juni 1984", "3 km"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert (
        len(lines) == 2
        and lines[0].split("\t")[1] in read(classifier_run, "metrics.json")["pretrained"]["labels"]
    )
    assert cli.main(["bert", "predict", tagger_run, "9 June 1984"]) == 0
    assert capsys.readouterr().out.strip().split("\t")[1].count("/") == 3


def test_bad_runs_and_corpora_are_input_errors(pretrained, classifier_run, tmp_path):
    with pytest.raises(InputError, match="needs a pretrained one"):
        finetuning.finetune(finetuning.FinetuneConfig(from_run=classifier_run), str(tmp_path / "a"))
    with pytest.raises(InputError, match="needs a classification corpus"):
        finetuning.finetune(
            finetuning.FinetuneConfig(source="cldr-tags", from_run=pretrained), str(tmp_path / "b")
        )
    with pytest.raises(InputError, match="an empty directory"):
        finetuning.load_run(str(tmp_path))
    assert not os.path.exists(tmp_path / "a") and not os.path.exists(tmp_path / "b")


def test_cli_errors_exit_2_without_a_traceback(tmp_path, capsys):
    assert cli.main(["bert", "pretrain", "--preset", "bert_huge", "--run-dir", str(tmp_path)]) == 2
    assert "unknown BERT preset 'bert_huge'" in capsys.readouterr().err
    assert cli.main(["bert", "finetune", "--task", "tag", "--from", str(tmp_path / "none")]) == 2
    assert "none: no such run directory" in capsys.readouterr().err
    assert cli.main(["bert", "pretrain", "--seq-len", "0"]) == 2
    assert "--seq-len must be at least 1" in capsys.readouterr().err
    bad = tmp_path / "bad.tsv"
    bad.write_text("label\tsentence\n1\tgood\n\tno label here\n")
    source = f"tsv:{bad},label=label"
    run = str(tmp_path / "run")
    assert (
        cli.main(["bert", "finetune", "--task", "classify", "--source", source, "--run-dir", run])
        == 2
    )
    assert capsys.readouterr().err.strip() == f"tf-transformer: error: {bad}:3: empty label"
    assert os.listdir(tmp_path) == ["bad.tsv"]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\ufeffQuality\t#1 String\t#2 String\n1\ta\tb\n")
    source = f"tsv:{pairs},label=Quality,text=#1 String,pair=#3 String"
    args = ["bert", "finetune", "--task", "classify", "--source", source, "--run-dir", run]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"tf-transformer: error: {pairs}:1: no '#3 String' column in the header "
        "('Quality', '#1 String', '#2 String')"
    )
    assert sorted(os.listdir(tmp_path)) == ["bad.tsv", "pairs.tsv"]


def test_finetune_on_labelled_files_with_a_header_and_a_train_limit(pretrained, tmp_path, capsys):
    rows = [("a fine , moving film", "1"), ("dull and flat", "0"), ("a joy", "1"), ("bad", "0")]
    train = tmp_path / "train.tsv"
    train.write_text(
        "label\tsentence\n" + "".join(f"{label}\t{t} {i}\n" for i in range(50) for t, label in rows)
    )
    dev = tmp_path / "dev.tsv"
    dev.write_text("label\tcontent\n" + "".join(f"{label}\t{t}\n" for t, label in rows))
    source = f"tsv:train={train},validation={dev},test=0,label=label"
    run_dir = str(tmp_path / "run")
    args = ["bert", "finetune", "--task", "classify", "--source", source, "--from", pretrained]
    args += ["--run-dir", run_dir, "--train-limit", "30", "--epochs", "1", "--no-compare"]
    assert cli.main([*args, "--learning-curve", "20,10,500"]) == 0
    out = capsys.readouterr().out
    assert "validation accuracy from pretrained encoder" in out and "macro-F1" in out
    # the curve: 10 and 20 examples in curve/, the run's own 30 last; 500 > 30 is left out
    curve = read(run_dir, "metrics.json")["learning_curve"]
    points = curve["points"]["pretrained"]
    assert list(points) == ["10", "20", "30"] and all(0 <= a <= 1 for a in points.values())
    assert points["30"] == read(run_dir, "metrics.json")["pretrained"]["accuracy"]
    assert os.path.getsize(curve["png"]) > 10_000 and "learning curve from pretrained" in out
    assert os.path.isfile(os.path.join(run_dir, "curve", "10", "pretrained", "model.keras"))
    # a point of 10 examples goes round to 200 steps; fine-tuning logs its tokens a second
    history = read(os.path.join(run_dir, "curve", "10", "pretrained"), "history.json")
    assert history["tokens_per_second"][0] > 0 and history["ms_per_step"][0] > 0
    report = read(run_dir, "metrics.json")["pretrained"]
    assert report["split"] == "validation" and report["examples"] == 4
    assert report["labels"] == ["0", "1"] and "validation" not in report
    assert os.path.isfile(os.path.join(run_dir, "confusion_matrix_validation.png"))
    assert read(run_dir, "config.json")["train_limit"] == 30
    assert read(run_dir, "config.json")["pooling"] == "cls"  # BERT's pooler, the default
    with pytest.raises(SystemExit) as exit_:  # argparse's refusal: usage, one error line
        cli.main([*args[:8], "--run-dir", str(tmp_path / "x"), "--pooling", "max"])
    assert exit_.value.code == 2 and "invalid choice: 'max'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_export_command_checks_and_prints_how_to_serve(classifier_run, tmp_path, capsys):
    model_dir = str(tmp_path / "classifier")
    assert cli.main(["bert", "export", classifier_run, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert f"exported: {model_dir}/1" in out and "conformance check passed" in out
    assert "signature serving_default: (text: string[-1])" in out
    example = read(classifier_run, "config.json")["examples"][0]
    curl = next(line for line in out.splitlines() if "curl -d" in line)
    assert json.dumps({"instances": [example]}) in curl  # a text of the run's own data
    assert example in load_corpus("cldr-langid").texts("validation")
    assert "serving_default on 7 inputs (label, probabilities) answers as the run's model" in out
    assert cli.main(["bert", "export", classifier_run, "--model-dir", model_dir]) == 0
    assert sorted(os.listdir(model_dir)) == ["1", "2"]


def test_finetune_reads_a_tfds_dataset_offline(pretrained, tmp_path):
    import tensorflow_datasets as tfds

    config = finetuning.FinetuneConfig(
        source="tfds:imdb_reviews", from_run=pretrained, epochs=1, compare_scratch=False
    )
    with tfds.testing.mock_data(num_examples=40):
        run_dir = finetuning.finetune(config, str(tmp_path / "imdb"))
    report = read(run_dir, "metrics.json")["pretrained"]
    assert report["labels"] == ["neg", "pos"] and report["examples"] == 40
    predictor, _ = finetuning.load_run(run_dir)
    assert set(strings(predictor.predict(["fine"])["label"])) <= {
        "neg",
        "pos",
    }


WORDS = "red blue green cat dog house tree river stone light".split()


def write_pairs(path, count, seed):
    """A GLUE-style pair file (byte-order mark, MRPC's header): label 1 where the second
    sentence has the first's words in another order, 0 where its words are others."""
    rng = np.random.default_rng(seed)
    rows = ["\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"]
    for i in range(count):
        first = list(rng.choice(WORDS, rng.integers(3, 8)))
        same = bool(rng.integers(2))
        second = list(rng.permutation(first)) if same else list(rng.choice(WORDS, len(first)))
        rows.append(f"{int(same)}\t{i}\t{i + count}\t{' '.join(first)}\t{' '.join(second)}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pair_run(pretrained, tmp_path_factory):
    data = tmp_path_factory.mktemp("mrpc")
    train, dev = write_pairs(data / "train.tsv", 400, 0), write_pairs(data / "dev.tsv", 60, 1)
    config = finetuning.FinetuneConfig(
        task="classify",
        source=f"tsv:train={train},validation={dev},test=0,text=#1 String,pair=#2 String,"
        "label=Quality",
        from_run=pretrained,
        epochs=2,
        steps_per_epoch=20,
        learning_rate=1e-3,
        compare_scratch=False,
        mixed_precision="float32",
    )
    return finetuning.finetune(config, str(tmp_path_factory.mktemp("bert") / "pairs"))


def test_pairs_fine_tune_export_and_answer_as_served(pair_run, tmp_path, capsys):
    config = read(pair_run, "config.json")
    assert config["pairs"] and all(len(pair) == 2 for pair in config["examples"])
    report = read(pair_run, "metrics.json")["pretrained"]
    matrix = np.array(report["confusion_matrix"])
    hits, guessed, actual = matrix[1, 1], matrix[:, 1].sum(), matrix[1].sum()
    assert report["positive_f1"] == pytest.approx(2 * hits / (guessed + actual))
    model_dir = str(tmp_path / "pairs")
    assert cli.main(["bert", "export", pair_run, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "signature serving_default: (pair: string[-1], text: string[-1])" in out
    # the run's pairs, both sides empty, either side empty, over-long, markup
    assert "serving_default on 8 inputs (label, probabilities) answers as the run's model" in out
    text, pair = config["examples"][0]
    curl = next(line for line in out.splitlines() if "curl -d" in line)
    assert json.dumps({"instances": [{"text": text, "pair": pair}]}) in curl
    predictor, _ = finetuning.load_run(pair_run)
    answers = predictor.predict([(text, pair), (text, ""), (pair, text)])
    assert cli.main(["bert", "predict", pair_run, text, text, "--pair", pair, "--pair", ""]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        [text, pair, strings(answers["label"])[0]],
        [text, "", strings(answers["label"])[1]],
    ]
    # the order of the two texts is read (segment ids): swapping them changes the answer
    assert not np.allclose(answers["probabilities"][0], answers["probabilities"][2])
    assert cli.main(["bert", "predict", pair_run, text]) == 2
    assert "give one --pair for each text (1 texts, 0 --pair)" in capsys.readouterr().err
    server = FakeServer(f"{model_dir}/1", "pairs")  # TF Serving's REST and gRPC APIs
    server.start_rest()
    server.start_grpc()
    try:
        for transport in (["--url", server.rest_url], ["--url", server.rest_url, "--columnar"]):
            argv = ["serving", "request", "--model", "pairs", *transport, text, "--pair", pair]
            assert cli.main(argv) == 0
            served = capsys.readouterr().out.strip().split("\t")
            assert served[:2] == [text, pair]
            assert json.loads(served[2])["label"] == strings(answers["label"])[0]
        argv = ["serving", "request", "--grpc", "--url", server.grpc_target, "--model", "pairs"]
        assert cli.main([*argv, text, "--pair", ""]) == 0
        served = json.loads(capsys.readouterr().out.strip().split("\t")[2])
        assert served["label"] == strings(answers["label"])[1]
        np.testing.assert_allclose(served["probabilities"], answers["probabilities"][1], atol=1e-6)
    finally:
        server.stop()


def write_conll(path, count, seed, long_sentence=False):
    """CoNLL-2003 columns (word, POS, chunk, IOB1 entity tag), names and places."""
    rng = np.random.default_rng(seed)
    names, places = ["Anna", "Boris", "Clara"], ["Paris", "New York", "Oslo"]
    sentences = []
    for _ in range(count):
        name, place = rng.choice(names), rng.choice(places).split()
        words = [(name, "I-PER"), ("visited", "O")] + [(w, "I-LOC") for w in place]
        sentences.append(words + [(".", "O")])
    if long_sentence:  # 3 x 25 words: more than --seq-len 32 pieces
        sentences.append([(w, t) for _ in range(15) for w, t in sentences[0]])
    blocks = ["\n".join(f"{w} NNP I-NP {t}" for w, t in words) for words in sentences]
    path.write_text("-DOCSTART- -X- -X- O\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def test_a_conll_tagger_predicts_every_word_and_exports_entity_spans(pretrained, tmp_path, capsys):
    train = write_conll(tmp_path / "train.txt", 300, 0)
    valid = write_conll(tmp_path / "valid.txt", 20, 1, long_sentence=True)
    run_dir = str(tmp_path / "tagger")
    args = ["bert", "finetune", "--task", "tag", "--from", pretrained, "--run-dir", run_dir]
    args += ["--source", f"conll:train={train},validation={valid}", "--seq-len", "32"]
    args += ["--epochs", "2", "--steps-per-epoch", "30", "--learning-rate", "1e-3"]
    args += ["--tag-head", "lstm", "--crf", "--word-features"]  # `tagger_run`: dense alone
    assert cli.main([*args, "--no-compare", "--mixed-precision", "float32"]) == 0
    out = capsys.readouterr().out
    assert "validation entity F1 from pretrained encoder" in out
    config = read(run_dir, "config.json")
    assert config["tag_head"] == "lstm" and config["crf"] is True and config["word_features"]
    features = read(run_dir, "word_features/word_features.json")
    assert {"Clara", "Oslo", "visited"} <= set(features["words"])  # the training text's
    report = read(run_dir, "metrics.json")["pretrained"]
    assert report["decoding"] == "the best sequence under the IOB rule and the CRF's transitions"
    entities = report["entities"]
    # a name and a place in each of 20 sentences and 15 times in the long one
    assert set(entities["per_type"]) == {"LOC", "PER"} and entities["support"] == 2 * 35
    assert entities["types"] == ["LOC", "PER", "O"]
    words = sum(1 for line in valid.read_text().splitlines() if line and "DOCSTART" not in line)
    assert np.array(entities["type_confusion"]).sum() == words  # every word
    assert os.path.getsize(entities["type_confusion_png"]) > 5_000
    model_dir = str(tmp_path / "model")
    assert cli.main(["bert", "export", run_dir, "--model-dir", model_dir]) == 0
    out = capsys.readouterr().out
    assert "entity_types: string[-1, -1]" in out and "conformance check passed" in out
    assert os.path.isfile(os.path.join(model_dir, "1", "assets", "tagger_word_features.json"))
    page = str(tmp_path / "page.html")
    assert cli.main(["bert", "explain", run_dir, "Clara visited Oslo .", "--out", page]) == 0
    assert "check passed" in capsys.readouterr().out
    predictor, _ = finetuning.load_run(run_dir)
    texts = ["Clara visited New York .", "", "nothing here", " ".join(["Anna visited Oslo ."] * 20)]
    served = predictor.predict(texts)
    for row, text in enumerate(texts):
        tags = [t for t in strings(served["tags"][row]) if t]
        assert len(tags) == len(text.split())  # every word, the 80 of the longest too
        assert all(  # the IOB rule: an I-X continues an X
            not tag.startswith("I-") or before[2:] == tag[2:]
            for before, tag in zip(["O", *tags], tags, strict=False)
        )
        expected = [kind for kind, _, _ in get_entities(tags)]
        types = [t for t in strings(served["entity_types"][row]) if t]
        assert types == expected
        for first, last, span in zip(
            served["entity_starts"][row],
            served["entity_ends"][row],
            served["entity_texts"][row],
            strict=True,
        ):
            assert first == last == -1 or text[first:last] == span.decode()
    assert strings(served["entity_types"][1]) == [""] * served["entity_types"].shape[1]


@pytest.mark.parametrize("run", ["pretrained", "classifier_run", "tagger_run"])
def test_cli_explain_on_every_kind_of_run(run, request, tmp_path, capsys):
    run_dir = request.getfixturevalue(run)
    page = str(tmp_path / "page.html")
    text = "the [MASK] of the file" if run == "pretrained" else "read the file"
    assert cli.main(["bert", "explain", run_dir, text, "--out", page]) == 0
    assert "check passed" in capsys.readouterr().out
    assert os.path.getsize(page) > 10_000
