"""`conll:` sources (CoNLL column files) and entity-level scores as `conlleval` counts them."""

import os

import pytest

from pipelines.corpora import CorpusError, load_corpus
from pipelines.corpora.conll import to_iob2
from pipelines.finetuning_reports import entity_report
from tf_transformer.serving.entities import is_iob

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "conll2003")

IOB2 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O
BRUSSELS NNP B-NP B-LOC
1996-08-22 CD I-NP O
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_sentences_documents_and_columns(tmp_path):
    path = _write(tmp_path, "train.txt", IOB2)
    corpus = load_corpus(f"conll:train={path},validation={path},test=0")
    assert corpus.kind == "tagging" and corpus.validation == corpus.train
    assert corpus.train == [
        (("EU", "rejects", "German", "call", "."), ("B-ORG", "O", "B-MISC", "O", "O")),
        (("Peter", "Blackburn"), ("B-PER", "I-PER")),
        (("BRUSSELS", "1996-08-22"), ("B-LOC", "O")),  # -DOCSTART- ends a sentence too
    ]
    assert corpus.labels == ("B-LOC", "B-MISC", "B-ORG", "B-PER", "I-PER", "O")
    chunks = load_corpus(f"conll:train={path},validation={path},test=0,tag=2")  # the chunk tags
    assert chunks.train[0][1] == ("B-NP", "B-VP", "B-NP", "I-NP", "O")


def test_iob1_is_read_as_iob2():
    assert to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == (
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG",
    )  # fmt: skip


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.txt", "EU NNP B-NP B-ORG\nrejects VBZ B-VP OTHER\n")
    with pytest.raises(CorpusError, match=r"bad\.txt:2: tag 'OTHER' is not IOB"):
        load_corpus(f"conll:{path}")
    with pytest.raises(CorpusError, match=r"bad\.txt:1: 4 columns; word=0, tag=7"):
        load_corpus(f"conll:{path},tag=7")
    with pytest.raises(CorpusError, match="tag='x' is not a column number"):
        load_corpus(f"conll:{path},tag=x")
    empty = _write(tmp_path, "empty.txt", "-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(CorpusError, match="empty corpus"):
        load_corpus(f"conll:{empty}")


def test_entity_scores_count_whole_entities_as_conlleval():
    truth = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    guess = [["B-PER", "O", "O", "B-LOC"], ["B-ORG"]]  # PER cut short; the last word unread
    report = entity_report(truth, guess, log=lambda line: None)
    # 2 of 3 predicted entities right (LOC, ORG; "Peter" alone is not "Peter Blackburn"),
    # 2 of the 3 true ones found
    assert report["precision"] == pytest.approx(2 / 3) and report["recall"] == pytest.approx(2 / 3)
    assert report["per_type"]["PER"]["f1"] == 0.0 and report["per_type"]["LOC"]["f1"] == 1.0
    assert is_iob(["B-PER", "I-PER", "O"]) and not is_iob(["CURRENCY", "UNIT"])


@pytest.mark.skipif(not os.path.isdir(DATA), reason="../shared/data/conll2003 is not here")
def test_conll_2003_reads_as_published():
    corpus = load_corpus(
        f"conll:train={DATA}/train.txt,validation={DATA}/valid.txt,test=0", stream=False
    )
    assert (len(corpus.train), len(corpus.validation)) == (14041, 3250)
    assert sum(len(words) for words, _ in corpus.train) == 203621
    assert {label[2:] for label in corpus.labels if label != "O"} == {"PER", "LOC", "ORG", "MISC"}


def test_a_taggers_word_features_are_the_runs_own_then_kept(tmp_path):
    """`--word-features`: made from the training words and saved with the run; a resumed
    run reads its own, and a run continuing another (`--init-from`) that run's, whose
    vectors the continued weights were trained with."""
    import types

    from pipelines.finetuning import FEATURES_DIR, FinetuneConfig, _run_features

    config = FinetuneConfig(task="tag", word_features=True)
    corpus = types.SimpleNamespace(train=[(["Oslo", "is", "in", "Norway"], ["B-LOC"] * 4)])
    made = _run_features(config, corpus, str(tmp_path / "run"), None)
    assert made.words == ["Oslo", "is", "in", "Norway"]
    assert os.path.isfile(tmp_path / "run" / FEATURES_DIR / "word_features.json")
    other = types.SimpleNamespace(train=[(["Bergen"], ["B-LOC"])])
    assert _run_features(config, other, str(tmp_path / "run"), None).words == made.words
    start = types.SimpleNamespace(path=str(tmp_path / "run"))
    continued = _run_features(config, other, str(tmp_path / "next"), start)
    assert continued.words == made.words  # not Bergen: the start run's vocabulary
    assert os.path.isfile(tmp_path / "next" / FEATURES_DIR / "word_features.json")
    plain = FinetuneConfig(task="tag")
    assert _run_features(plain, corpus, str(tmp_path / "none"), None) is None
    assert not os.path.exists(tmp_path / "none")
