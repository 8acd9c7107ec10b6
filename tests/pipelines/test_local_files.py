"""The user's own corpora: fractions, a file per split, aligned one-sentence-per-line files."""

import os

import pytest

from pipelines.corpora import SPLITS, CorpusError, load_corpus


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def aligned(tmp_path, stem, count, start=0):
    en = "".join(f"A dog number {i} runs.\n" for i in range(start, start + count))
    fr = "".join(f"Un chien numéro {i} court.\n" for i in range(start, start + count))
    write(tmp_path / f"{stem}.en", en)
    write(tmp_path / f"{stem}.fr", fr)
    return str(tmp_path / stem)


def test_hash_split_fractions_are_settable(tmp_path):
    path = write(tmp_path / "pairs.tsv", "".join(f"s{i}\tt{i}\n" for i in range(2000)))
    default = load_corpus(f"tsv:{path}")
    wider = load_corpus(f"tsv:{path},validation=0.2,test=0.1")
    assert 60 <= len(default.validation) <= 140 and 60 <= len(default.test) <= 140
    assert 330 <= len(wider.validation) <= 470 and 150 <= len(wider.test) <= 250
    assert sum(len(wider.split(name)) for name in SPLITS) == 2000


def test_a_file_per_split_is_read_as_given(tmp_path):
    files = {
        name: write(tmp_path / f"{name}.tsv", "".join(f"{name} {i}\tx {i}\n" for i in range(n)))
        for name, n in (("train", 300), ("dev", 20), ("test", 10))
    }
    spec = f"tsv:train={files['train']},validation={files['dev']},test={files['test']}"
    corpus = load_corpus(spec)
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (300, 20, 10)
    assert corpus.validation[0] == ("dev 0", "x 0")
    # a split left out is carved out of train by hash
    carved = load_corpus(f"tsv:train={files['train']},test={files['test']}")
    assert len(carved.test) == 10 and 0 < len(carved.validation) < 40
    assert len(carved.train) + len(carved.validation) == 300


def test_aligned_line_files_per_split_and_from_a_directory(tmp_path):
    aligned(tmp_path, "train", 500)
    aligned(tmp_path, "val", 30, start=1000)
    aligned(tmp_path, "test_2016_flickr", 20, start=2000)
    spec = f"lines:en-fr:train={tmp_path}/train,validation={tmp_path}/val"
    corpus = load_corpus(spec + f",test={tmp_path}/test_2016_flickr")
    assert corpus.kind == "parallel"
    assert (len(corpus.train), len(corpus.validation), len(corpus.test)) == (500, 30, 20)
    assert corpus.test[3] == ("A dog number 2003 runs.", "Un chien numéro 2003 court.")
    found = load_corpus(f"lines:en-fr:{tmp_path}")  # train, val and the only test* set
    assert (found.train, found.validation, found.test) == (
        corpus.train,
        corpus.validation,
        corpus.test,
    )
    reversed_pairs = load_corpus(f"lines:fr-en:{tmp_path}")
    assert reversed_pairs.test[3] == ("Un chien numéro 2003 court.", "A dog number 2003 runs.")
    one_pair = load_corpus(f"lines:en-fr:{tmp_path}/train,validation=0.1,test=0.1")
    assert sum(len(one_pair.split(name)) for name in SPLITS) == 500


@pytest.mark.parametrize(
    "files, spec, message",
    [
        (
            {"train.en": "a\nb\nc\n", "train.fr": "x\ny\n"},
            "lines:en-fr:{d}/train",
            r"train\.en has 3 lines but .*train\.fr has 2",
        ),
        ({"train.en": "a\n"}, "lines:en-fr:{d}/train", r"train\.fr: no such file"),
        (
            {"train.en": b"a\n\xff\xfeb\n", "train.fr": "x\ny\n"},
            "lines:en-fr:{d}/train",
            r"train\.en:2: invalid UTF-8",
        ),
        (
            {"train.tsv": "a\tb\n", "val.tsv": "\n\n"},
            "tsv:train={d}/train.tsv,validation={d}/val.tsv",
            r"val\.tsv: empty corpus",
        ),
        ({"train.tsv": "a\tb\n"}, "tsv:validation={d}/train.tsv", "no train file"),
        ({"train.tsv": "a\tb\n"}, "tsv:{d}/train.tsv,dev={d}/x", "unknown split 'dev'"),
        ({"train.tsv": "a\tb\n"}, "tsv:{d}/train.tsv,validation=0.6,test=0.5", "sum to 1"),
        ({"train.en": "a\n"}, "lines:en:{d}/train", "expected lines:SRC-TGT:PATH"),
        ({"dev.en": "a\n"}, "lines:en-fr:{d}", r"has no train\.en"),
        (
            {n: "a\n" for n in ("train.en", "test1.en", "test2.en")},
            "lines:en-fr:{d}",
            r"several test sets \(test1, test2\)",
        ),
    ],
)
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "in-memory"])
def test_malformed_corpora_are_one_line_errors(tmp_path, files, spec, message, stream):
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(CorpusError, match=message) as error:
        load_corpus(spec.format(d=tmp_path), stream=stream)
    assert "\n" not in str(error.value)


def pairs_of(dataset):
    return [(s.decode(), t.decode()) for s, t in dataset.as_numpy_iterator()]


@pytest.mark.parametrize("kind", ["tsv", "lines"])
def test_streamed_files_split_and_sample_as_the_in_memory_path_does(tmp_path, kind):
    # untidy lines: surrounding blanks, CRLF, blank lines, a pair with a blank side
    sources = [f"  Source sentence {i} .\r" if i % 7 else f"Source {i}" for i in range(3000)]
    targets = [f"Cible {i} ." if i % 11 else "" for i in range(3000)]
    if kind == "tsv":
        rows = [f"{s}\t{t}\textra" for s, t in zip(sources, targets, strict=True)]
        spec = "tsv:" + write(tmp_path / "pairs.tsv", "\n".join(rows[:1500] + [""] + rows[1500:]))
    else:
        write(tmp_path / "all.en", "\n".join(sources) + "\n")
        write(tmp_path / "all.fr", "\n".join(targets))  # no final newline
        spec = f"lines:en-fr:{tmp_path}/all,validation=0.1"
    streamed, whole = load_corpus(spec), load_corpus(spec, stream=False)
    assert "(parallel, streamed)" in streamed.summary()
    assert "(parallel)" in whole.summary()
    for name in SPLITS:
        assert streamed.split(name) == whole.split(name) and streamed.size(name) > 0
        assert pairs_of(streamed.dataset(name)) == pairs_of(whole.dataset(name))
    assert streamed.head("validation", 3) == whole.validation[:3]
    for side in (0, 1):
        sample = streamed.sample_texts("train", side, 500)
        assert len(sample) == 500 and sample == whole.sample_texts("train", side, 500)
    assert streamed.sample_texts("test", 1, 10**6) == whole.texts("test", 1)


def test_a_streamed_corpus_reads_its_files_when_it_is_iterated(tmp_path):
    stem = aligned(tmp_path, "train", 100)
    corpus = load_corpus(f"lines:en-fr:{stem},validation=0,test=0")
    assert corpus.size("train") == 100
    with open(f"{stem}.en", "a") as en, open(f"{stem}.fr", "a") as fr:
        en.write("Appended.\n")
        fr.write("Ajoutée.\n")
    # nothing of the file was kept in Python: the dataset reads the file as it is now
    assert pairs_of(corpus.dataset("train"))[-1] == ("Appended.", "Ajoutée.")


def test_streamed_bad_rows_are_skipped_in_the_graph_too(tmp_path, capsys):
    write(tmp_path / "train.en", b"one\n\xff two\nthree\nfour\n")
    write(tmp_path / "train.fr", b"un\ndeux\ntrois\n\xfe\n")
    spec = f"lines:en-fr:{tmp_path}/train,validation=0,test=0"
    corpus = load_corpus(spec, skip_bad_rows=True)
    assert corpus.skipped == 2 and "skipped 2 bad rows" in capsys.readouterr().err
    assert corpus.train == [("one", "un"), ("three", "trois")]
    assert corpus.train == load_corpus(spec, skip_bad_rows=True, stream=False).train


# Text cut by position (char-rnn's split) and labelled files with a header row ----------


def test_text_cut_by_position_keeps_the_text_as_it_is(tmp_path):
    text = "First Citizen:\nBefore we proceed,\n\n  hear me speak.\n" * 40 + "The end\n"
    path = write(tmp_path / "input.txt", text)
    corpus = load_corpus(f"text:{path},validation=0.1,test=0,by=position")
    cut = round(len(text) * 0.9)
    assert corpus.train == [text[:cut]] and corpus.validation == [text[cut:]]
    assert corpus.test == [] and corpus.kind == "text"
    default = load_corpus(f"text:{path},by=position")  # 5% and 5%, at the end
    assert "".join(default.train + default.validation + default.test) == text
    assert len(default.test[0]) == len(text) - round(len(text) * 0.95)


SST = "label\tsentence\n0\thide new secretions\n1\ta gorgeous , witty film\n0\tdull\n"
DEV = "label\tcontent\n1\tit 's a charming journey .\n0\tone long string of cliches .\n"


def test_labelled_files_name_their_columns_in_a_header(tmp_path):
    train, dev = write(tmp_path / "train.tsv", SST), write(tmp_path / "dev.tsv", DEV)
    corpus = load_corpus(f"tsv:train={train},validation={dev},test=0,label=label")
    assert corpus.kind == "classification" and corpus.labels == ("0", "1")
    assert corpus.train == [
        ("hide new secretions", "0"),
        ("a gorgeous , witty film", "1"),
        ("dull", "0"),
    ]  # the text column: the other of two (`sentence` here, `content` in dev)
    assert corpus.validation[0] == ("it 's a charming journey .", "1")
    reordered = write(tmp_path / "r.csv", 'id,review,stars\n7,"good, really",five stars\n')
    named = load_corpus(f"csv:train={reordered},validation=0,test=0,text=review,label=stars")
    assert named.train == [("good, really", "five stars")]
    auto = write(tmp_path / "a.csv", "Label,Text\npos,fine\nneg,bad\n")  # a `label` header
    assert sorted(load_corpus(f"csv:train={auto},validation=0,test=0").train) == [
        ("bad", "neg"),
        ("fine", "pos"),
    ]
    tags = write(tmp_path / "t.tsv", "tokens\ttags\nMonday is 5\tWEEKDAY O NUMBER\n")
    tagging = load_corpus(f"tsv:train={tags},validation=0,test=0,text=tokens,tags=tags")
    assert tagging.kind == "tagging" and tagging.labels == ("NUMBER", "O", "WEEKDAY")
    assert tagging.train == [(("Monday", "is", "5"), ("WEEKDAY", "O", "NUMBER"))]


def test_pair_files_name_two_text_columns_and_lose_their_byte_order_mark(tmp_path):
    glue = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"  # MRPC's header, with a BOM
    rows = ["1\t7\t8\tHe said so .\tSo he said .", "0\t9\t10\tA cat .\tThe stock fell ."]
    path = write(tmp_path / "mrpc.tsv", glue + "\n".join(rows) + "\n")
    spec = f"tsv:train={path},validation=0,test=0,text=#1 String,pair=#2 String,label=Quality"
    corpus = load_corpus(spec)
    assert corpus.pairs and corpus.labels == ("0", "1")
    assert corpus.train == [
        (("He said so .", "So he said ."), "1"),
        (("A cat .", "The stock fell ."), "0"),
    ]
    assert corpus.texts("train") == ["He said so .", "So he said .", "A cat .", "The stock fell ."]
    (texts, pairs), labels = next(iter(corpus.dataset("train").batch(2)))
    assert texts.numpy().tolist() == [b"He said so .", b"A cat ."]
    assert pairs.numpy().tolist() == [b"So he said .", b"The stock fell ."]
    assert labels.numpy().tolist() == [1, 0]
    single = load_corpus(f"tsv:train={path},validation=0,test=0,text=#1 String,label=Quality")
    assert not single.pairs and single.train[0] == ("He said so .", "1")


@pytest.mark.parametrize(
    "content, options, message",
    [
        (
            "label\ta\tb\n1\tx\ty\n",
            "label=label,text=a,pair=c",
            r"x:1: no 'c' column in the header",
        ),
        ("label\ta\tb\n1\tx\ty\n0\tx\t \n", "label=label,text=a,pair=b", r"x:3: empty second text"),
        ("label\ta\tb\n1\t\ty\n", "label=label,text=a,pair=b", r"x:2: empty text"),
        ("t\tg\tp\na\tO\tb\n", "text=t,tags=g,pair=p", "not for tags="),
        ("0\thide new secretions\n", "label=label", r"x:1: no 'label' column in the header"),
        (SST, "label=label,text=review", r"x:1: no 'review' column in the header"),
        (SST, "label=stars", r"x:1: no 'stars' column"),
        ("label\ttext\n0\tfine\n\tno label\n", "label=label", r"x:3: empty label"),
        ("label\ttext\n0\tfine\n1\n", "label=label", r"x:3: expected 2 columns as the header"),
        ("a\tb\tlabel\n1\t2\t3\n", "label=label", r"x:1: name the text column, text=COLUMN"),
        ("label\ttext\n", "label=label", r"x: empty corpus \(no labelled rows\)"),
        ("", "label=label", r"x: empty corpus"),
        (b"label\ttext\n0\t\x89PNG\x00\xff\n", "label=label", r"x:2: invalid UTF-8"),
        ("t\tg\na b\tO\n", "text=t,tags=g", r"x:2: 2 tokens but 1 tags"),
        ("label\ttext\n0\tfine\n", "label=label,tags=t", "not both"),
        ("label\ttext\n0\tfine\n", "by=chance", "use by=hash or by=position"),
    ],
)
def test_bad_labelled_files_are_one_line_errors_naming_file_and_line(
    tmp_path, content, options, message
):
    path = write(tmp_path / "x", content)
    with pytest.raises(CorpusError, match=message) as error:
        load_corpus(f"tsv:{path},{options}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "content, spec, message",
    [
        ("", "text:{p},by=position", "empty corpus"),
        (b"ok\n\x89PNG\r\n\x00\xff", "text:{p},by=position", r"x:2: invalid UTF-8"),
        ("a\tb\n", "tsv:{p},by=position", "by=position is for text: files"),
        ("abc", "text:train={p},validation={p},by=position", "cuts one file"),
    ],
)
def test_bad_text_files_cut_by_position_are_one_line_errors(tmp_path, content, spec, message):
    path = write(tmp_path / "x", content)
    with pytest.raises(CorpusError, match=message):
        load_corpus(spec.format(p=path))


def test_a_stable_subset_is_the_same_every_time_and_nested():
    from pipelines.corpora import stable_subset

    examples = [(f"text {i}", str(i % 2)) for i in range(1000)]
    small = stable_subset(examples, 50, key=lambda ex: ex[0])
    assert small == stable_subset(list(examples), 50, key=lambda ex: ex[0])
    assert len(small) == 50 and small != examples[:50]
    large = stable_subset(examples, 200, key=lambda ex: ex[0])
    assert set(small) <= set(large)
    assert large == sorted(large, key=examples.index)  # in the corpus' order
    assert stable_subset(examples, 5000, key=lambda ex: ex[0]) == examples


MRPC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "mrpc")


@pytest.mark.skipif(not os.path.isdir(MRPC), reason="../shared/data/mrpc is absent")
def test_glues_mrpc_reads_as_published():
    spec = (
        f"tsv:train={MRPC}/train.tsv,validation={MRPC}/dev.tsv,test=0,"
        "text=#1 String,pair=#2 String,label=Quality"
    )
    corpus = load_corpus(spec)
    assert corpus.pairs and corpus.labels == ("0", "1")
    assert (corpus.size("train"), corpus.size("validation")) == (3667, 408)
    positive = sum(label == "1" for _, label in corpus.validation)
    assert round(100 * positive / 408, 1) == 68.4  # the majority class, as GLUE reports it
