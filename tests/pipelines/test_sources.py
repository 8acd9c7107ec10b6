import collections

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from pipelines.corpora import SPLITS, CorpusError, cldr, load_corpus, split_of


def all_examples(corpus):
    return [ex for name in SPLITS for ex in corpus.split(name)]


def test_cldr_en_pt_has_50000_distinct_pairs_in_disjoint_splits():
    corpus = load_corpus("cldr:en-pt")
    assert corpus.kind == "parallel"
    pairs = all_examples(corpus)
    assert len(set(pairs)) == len(pairs) >= 50_000
    sources = {name: {s for s, _ in corpus.split(name)} for name in SPLITS}
    assert not sources["train"] & sources["validation"]
    assert not sources["train"] & sources["test"]
    assert not sources["validation"] & sources["test"]
    assert len(corpus.validation) > 1000 and len(corpus.test) > 1000
    assert all(isinstance(s, str) and isinstance(t, str) and s and t for s, t in pairs)


def test_cldr_is_deterministic_for_a_seed():
    first = load_corpus("cldr:en-de", size=2000, seed=3)
    cldr.parallel_pairs.cache_clear()
    again = load_corpus("cldr:en-de", size=2000, seed=3)
    other = load_corpus("cldr:en-de", size=2000, seed=4)
    assert first.train == again.train and first.test == again.test
    assert first.train != other.train


def test_cldr_renders_the_same_values_in_both_locales():
    pairs = dict(cldr.parallel_pairs("en", "pt", size=5000))
    # a date, an amount and a unit with a plural form, all rendered from shared values
    dates = [(s, t) for s, t in pairs.items() if s.startswith("Saturday, ")]
    assert dates and all(t.startswith("sábado, ") for _, t in dates)
    years = [(s[-4:], t[-4:]) for s, t in dates]
    assert all(a == b for a, b in years)
    assert any(t.endswith("quilômetros") for t in pairs.values())
    assert any(t == "1 quilômetro" for t in pairs.values())


@pytest.mark.parametrize("spec", ["cldr:pt-en", "cldr:de-fr", "cldr:ja-es"])
def test_any_pair_of_locales_works(spec):
    corpus = load_corpus(spec, size=500)
    assert len(all_examples(corpus)) == 500


def test_unknown_locale_is_an_input_error():
    with pytest.raises(CorpusError, match="unknown CLDR locale 'xx'"):
        load_corpus("cldr:en-xx")


def test_pydocs_is_split_by_document():
    corpus = load_corpus("pydocs")
    assert corpus.kind == "text"
    assert len(corpus.train) > 3000 and corpus.validation and corpus.test
    assert not set(corpus.train) & set(corpus.test)
    # read with ast from the stdlib sources, and the reference topics from pydoc_data
    assert any("Return" in doc for doc in corpus.train + corpus.validation + corpus.test)
    assert load_corpus("pydocs").train == corpus.train


def test_cldr_langid_has_at_least_ten_languages_and_unambiguous_labels():
    corpus = load_corpus("cldr-langid")
    assert corpus.kind == "classification"
    assert len(corpus.labels) >= 10
    counts = collections.Counter(label for _, label in all_examples(corpus))
    assert set(counts) == set(corpus.labels) and min(counts.values()) > 500
    texts = [text for text, _ in all_examples(corpus)]
    assert len(texts) == len(set(texts))


def test_cldr_tags_label_every_token_with_its_field():
    corpus = load_corpus("cldr-tags")
    assert corpus.kind == "tagging" and corpus.labels == cldr.TAGS
    seen = collections.Counter()
    for tokens, tags in all_examples(corpus):
        assert len(tokens) == len(tags) > 0
        seen.update(tags)
    assert set(seen) == set(cldr.TAGS)
    tagged = dict(zip(*cldr.tokens_and_tags(cldr._date(_Fixed())(cldr.locale("en"))), strict=True))
    assert tagged["January"] == "MONTH" and tagged["1"] == "DAY" and tagged["1900"] == "YEAR"


class _Fixed:
    """A stand-in random source that always picks the first option (1900-01-01, full)."""

    def randrange(self, *args):
        return 0

    def choice(self, options):
        return options[0]


def test_split_of_is_a_stable_hash():
    assert split_of("hello") == split_of("hello")
    shares = collections.Counter(split_of(str(i)) for i in range(20000))
    assert 0.04 < shares["test"] / 20000 < 0.06
    assert 0.04 < shares["validation"] / 20000 < 0.06


def test_datasets_have_the_documented_element_specs():
    pairs = load_corpus("cldr:en-pt").dataset("validation")
    assert pairs.element_spec == (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.string))
    langid = load_corpus("cldr-langid").dataset("test")
    assert langid.element_spec == (tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32))
    tags = load_corpus("cldr-tags").dataset("test")
    tokens, tag_ids = next(iter(tags))
    assert tokens.dtype == tf.string and tag_ids.dtype == tf.int32
    assert tokens.shape == tag_ids.shape
    texts = load_corpus("pydocs").dataset("test")
    assert texts.element_spec == tf.TensorSpec([], tf.string)


# Local files ------------------------------------------------------------------------------


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_tsv_takes_the_first_two_columns(tmp_path):
    rows = "".join(
        f"Go {i}.\tVai {i}.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}\n" for i in range(200)
    )
    corpus = load_corpus("tsv:" + write(tmp_path, "por.txt", rows))
    assert corpus.kind == "parallel" and len(all_examples(corpus)) == 200
    assert ("Go 7.", "Vai 7.") in all_examples(corpus)


def test_bad_tsv_row_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "bad.tsv", "a\tb\nc\td\nonly one column\ne\tf\n")
    with pytest.raises(CorpusError, match=r"bad\.tsv:3: expected at least 2 tab-separated"):
        load_corpus("tsv:" + path)


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "bad.tsv", b"a\tb\n\xff\xfe\tx\nc\td\n")
    with pytest.raises(CorpusError, match=r"bad\.tsv:2: invalid UTF-8"):
        load_corpus("tsv:" + path)


def test_skip_bad_rows_skips_and_reports_how_many(tmp_path, capsys):
    path = write(tmp_path, "bad.tsv", b"a\tb\n\xff\tx\nlonely\nc\td\n")
    corpus = load_corpus("tsv:" + path, skip_bad_rows=True)
    assert corpus.skipped == 2
    assert len(all_examples(corpus)) == 2
    assert "skipped 2 bad rows" in capsys.readouterr().err
    assert "skipped 2 bad rows" in corpus.summary()


def test_missing_file_empty_corpus_and_unknown_spec(tmp_path):
    with pytest.raises(CorpusError, match="nope.tsv: no such file"):
        load_corpus(f"tsv:{tmp_path}/nope.tsv")
    with pytest.raises(CorpusError, match="empty corpus"):
        load_corpus("tsv:" + write(tmp_path, "empty.tsv", "\n\n"))
    with pytest.raises(CorpusError, match="unknown corpus 'wikipedia'"):
        load_corpus("wikipedia")
    with pytest.raises(CorpusError, match="no such file"):
        load_corpus(f"text:{tmp_path}/*.md")


def test_text_glob_reads_paragraphs_of_every_file(tmp_path):
    for i in range(3):
        write(
            tmp_path,
            f"doc{i}.txt",
            "".join(f"line one of {i}-{p}\nline two\n\n" for p in range(20)),
        )
    corpus = load_corpus(f"text:{tmp_path}/*.txt")
    docs = all_examples(corpus)
    assert len(docs) == 60 and "line one of 2-5 line two" in docs


def test_csv_reads_text_and_label(tmp_path):
    rows = "text,label\n" + "".join(f'"good, {i}",pos\nbad {i},neg\n' for i in range(50))
    corpus = load_corpus("csv:" + write(tmp_path, "reviews.csv", rows))
    assert corpus.kind == "classification" and corpus.labels == ("neg", "pos")
    assert ("good, 3", "pos") in all_examples(corpus)
    with pytest.raises(CorpusError, match=r"bad\.csv:2: expected 2 comma-separated"):
        load_corpus("csv:" + write(tmp_path, "bad.csv", "a,b\nno label\n"))


# TFDS (offline, with mock data) -----------------------------------------------------------


def test_tfds_translation_dataset_under_mock_data():
    with tfds.testing.mock_data(num_examples=8):
        corpus = load_corpus("tfds:ted_hrlr_translate/pt_to_en")
    assert corpus.kind == "parallel"
    assert len(corpus.train) == 8 and len(corpus.validation) == 8 and len(corpus.test) == 8
    assert all(isinstance(s, str) and isinstance(t, str) for s, t in corpus.train)


def test_tfds_classification_and_text_datasets_under_mock_data():
    with tfds.testing.mock_data(num_examples=6):
        reviews = load_corpus("tfds:imdb_reviews")
        plays = load_corpus("tfds:tiny_shakespeare")
    assert reviews.kind == "classification" and reviews.labels == ("neg", "pos")
    assert {label for _, label in reviews.train} <= {"neg", "pos"}
    assert plays.kind == "text" and all(isinstance(t, str) for t in plays.train)


def test_unknown_tfds_name_is_an_input_error():
    with pytest.raises(CorpusError, match="tfds:no_such_dataset"):
        load_corpus("tfds:no_such_dataset")
