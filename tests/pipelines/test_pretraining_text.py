"""Unlabelled text for BERT's pretraining: sources read together with their shares, documents
packed into full windows, whole words masked together; long texts cut at their head, tail
or both, markup stripped; bad input refused in one line with nothing written."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from pipelines.corpora import CorpusError
from pipelines.corpora.documents import load_documents
from pipelines.masked_lm_batches import (
    continuation_ids,
    count_windows,
    make_pretraining_batches,
    mask_tokens,
    max_predictions,
    pack_documents,
)
from tf_transformer import cli
from tf_transformer.text import WordPieceTokenizer
from tf_transformer.text.bert_inputs import encode_texts, keep_pieces, strip_markup

WORDS = "the a film was good bad plot actor scene long short funny boring great".split()


def reviews(count, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 40))) for _ in range(count)]


@pytest.fixture(scope="module")
def tokenizer():
    # a small vocabulary: many words split into `##` pieces
    return WordPieceTokenizer.train(reviews(300) + ["unwatchable filmmaking"] * 5, vocab_size=40)


def quiet(line):
    pass


def test_plain_files_mix_with_labelled_texts_in_their_shares(tmp_path):
    plain = tmp_path / "unsup.txt"
    docs = reviews(400)
    plain.write_text("\n".join(docs) + "\n\n")  # a blank line is no document
    labelled = tmp_path / "train.tsv"
    labelled.write_text("label\ttext\n" + "".join(f"1\t{t}\n" for t in reviews(100, 1)))
    lines = []
    documents = load_documents(f"{plain}+tsv:{labelled},label=label", log=lines.append)
    shares = documents.shares()
    assert list(shares) == [str(plain), f"tsv:{labelled},label=label"]
    first = shares[str(plain)]
    assert documents.size("train") + documents.size("validation") + documents.size("test") == 500
    assert first["documents"] + documents.sources[0].documents["validation"] == 400
    train = [t.decode() for t in documents.sources[0].dataset("train").as_numpy_iterator()]
    assert first["characters"] == sum(map(len, train)) and len(train) == first["documents"]
    assert sum(s["share"] for s in shares.values()) == pytest.approx(1, abs=1e-3)
    assert any(f"{100 * first['share']:.1f}% of the mix" in line for line in lines)
    mixed = [t.decode() for t in documents.dataset("train").as_numpy_iterator()]
    assert sorted(mixed) == sorted(train + [t for t, _ in _labelled_train(labelled)])
    # the two sources are interleaved, not one after the other
    first_half = mixed[: len(mixed) // 2]
    assert 0 < sum(t in set(train) for t in first_half) < len(first_half)


def _labelled_train(path):
    from pipelines.corpora import load_corpus

    return load_corpus(f"tsv:{path},label=label").train


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", ": empty corpus (no text)"),
        (b"\n  \n", ": empty corpus (no text)"),
        (b"fine\nbinary\x00\x01\n", ":2: a NUL byte (a binary file, not text)"),
        (b"fine\nbad \xff byte\n", ":2: invalid UTF-8 at byte 4"),
    ],
)
def test_bad_text_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "docs.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match="^" + re.escape(f"{path}{message}")):
        load_documents(str(path), log=quiet)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CorpusError, match="^" + re.escape(f"{tmp_path}/none.txt: no such file")):
        load_documents(f"pydocs+{tmp_path}/none.txt", log=quiet)


def test_packed_windows_are_full_and_keep_every_piece_in_order(tokenizer):
    docs = reviews(50, 2)
    windows = list(pack_documents(tf.data.Dataset.from_tensor_slices(docs), tokenizer, 16))
    windows = np.stack([w.numpy() for w in windows])
    assert windows.shape[1] == 16 and np.all(windows != 0)  # no padding anywhere
    assert np.all(windows[:, 0] == tokenizer.start_id) and np.all(
        windows[:, -1] == tokenizer.end_id
    )
    stream = np.concatenate(
        [np.append(ids, tokenizer.end_id) for ids in tokenizer.tokenize(tf.constant(docs)).numpy()]
    )
    body = windows[:, 1:-1].reshape(-1)
    assert len(stream) - len(body) < 14  # only the group's last partial run is dropped
    np.testing.assert_array_equal(body, stream[: len(body)])
    assert count_windows(tf.data.Dataset.from_tensor_slices(docs), tokenizer, 16) == len(windows)


def test_markup_is_stripped_before_packing(tokenizer):
    docs = tf.data.Dataset.from_tensor_slices(["good film<br /><br />bad plot"] * 8)
    plain = tf.data.Dataset.from_tensor_slices(["good film  bad plot"] * 8)
    stripped = list(pack_documents(docs, tokenizer, 8, clean=strip_markup))
    expected = list(pack_documents(plain, tokenizer, 8))
    np.testing.assert_array_equal(np.stack(stripped), np.stack(expected))
    assert strip_markup(tf.constant("a<br />b <i>c</i> 3 < 4 > 2")).numpy() == b"a b  c  3 < 4 > 2"


def test_whole_word_masking_masks_every_piece_of_a_chosen_word(tokenizer):
    continuation = continuation_ids(tokenizer)
    assert continuation is not None
    docs = tf.data.Dataset.from_tensor_slices(reviews(200, 3) + ["unwatchable filmmaking"] * 20)
    windows = tf.stack(list(pack_documents(docs, tokenizer, 32)))
    ids = tf.RaggedTensor.from_tensor(windows)
    cont = continuation.numpy()
    masked, positions, labels = mask_tokens(
        ids, tokenizer.vocab_size, 32, 0.15, seed=[1, 2], continuation=continuation
    )
    masked, positions, labels = masked.to_tensor().numpy(), positions.numpy(), labels.numpy()
    width = max_predictions(32, 0.15, whole_words=True)
    assert positions.shape[1] == width
    split_words = 0
    for row, original in enumerate(windows.numpy()):
        chosen = set(positions[row][labels[row] != 0])
        changed = set(np.flatnonzero(masked[row] != original))
        assert changed <= chosen  # nothing changes outside the predicted positions
        np.testing.assert_array_equal(labels[row][labels[row] != 0], original[sorted(chosen)])
        for position in chosen:  # each chosen piece's whole word is chosen
            start = position
            while start > 0 and cont[original[start]]:
                start -= 1
            end = position + 1
            while end < len(original) and cont[original[end]]:
                end += 1
            split_words += end - start > 1
            if len(chosen) < width:  # (a row at its limit may stop inside a word)
                assert set(range(start, end)) <= chosen
    assert split_words > 0  # the test did see words of several pieces
    # piece by piece, some chosen piece's word is left partly unchosen
    _, positions, labels = mask_tokens(ids, tokenizer.vocab_size, 32, 0.15, seed=[1, 2])
    assert positions.shape[1] == max_predictions(32, 0.15)


def test_pretraining_batches_mask_anew_each_pass_and_fill_every_batch(tokenizer):
    docs = tf.data.Dataset.from_tensor_slices(reviews(200, 4))
    windows = pack_documents(docs, tokenizer, 16)
    batches = make_pretraining_batches(windows, tokenizer, 16, 8, seed=3)
    first = [x["token_ids"].numpy() for x, _ in batches]
    second = [x["token_ids"].numpy() for x, _ in batches]
    assert all(batch.shape == (8, 16) for batch in first)
    assert any(not np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(
    "keep, kept", [("head", [1, 2, 3, 4, 5, 6, 7, 8]), ("tail", [3, 4, 5, 6, 7, 8, 9, 10])]
)
def test_long_texts_keep_their_head_or_tail(keep, kept):
    ids = tf.ragged.constant([list(range(1, 11)), [1, 2, 3]])
    out = keep_pieces(ids, 8, keep).to_list()
    assert out == [kept, [1, 2, 3]]


def test_head_and_tail_keep_a_quarter_and_three_quarters():
    ids = tf.ragged.constant([list(range(1000)), list(range(100))])
    out = keep_pieces(ids, 510, "head+tail").to_list()
    assert out[0] == list(range(128)) + list(range(1000 - 382, 1000))
    assert out[1] == list(range(100))  # a short text is whole


def test_encode_texts_strips_markup_unless_kept(tokenizer):
    texts = tf.constant(["good film<br />bad plot"])
    plain = encode_texts(tokenizer, tf.constant(["good film bad plot"]), 64).to_list()
    assert encode_texts(tokenizer, texts, 64, markup=False).to_list() == plain
    assert encode_texts(tokenizer, texts, 64).to_list() != plain


def _pretrain(args, tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(["bert", "pretrain", *args, "--run-dir", str(run), "--preset", "bert_tiny"])
    return code, capsys.readouterr().err.strip().splitlines(), run


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "docs.txt: empty corpus (no text)"),
        (b"a review\n\x00\x01\x02", "docs.txt:2: a NUL byte (a binary file, not text)"),
    ],
)
def test_pretrain_refuses_bad_text_in_one_line_writing_nothing(tmp_path, capsys, content, message):
    path = tmp_path / "docs.txt"
    path.write_bytes(content)
    code, err, run = _pretrain(["--source", str(path)], tmp_path, capsys)
    assert code == 2 and len(err) == 1 and err[0].endswith(message)
    assert not run.exists()


def test_pretrain_refuses_a_missing_file_and_a_length_over_the_table(tmp_path, capsys):
    code, err, run = _pretrain(["--source", str(tmp_path / "none.txt")], tmp_path, capsys)
    assert code == 2 and err == [f"tf-transformer: error: {tmp_path}/none.txt: no such file"]
    code, err, run = _pretrain(["--seq-len", "513"], tmp_path, capsys)
    assert code == 2 and err == [
        "tf-transformer: error: --seq-len 513 exceeds bert_tiny's 512 positions"
    ]
    assert not run.exists()


def test_pretrain_refuses_a_labelled_row_without_its_label(tmp_path, capsys):
    path = tmp_path / "train.tsv"
    path.write_text("label\ttext\n1\tgood\n\ta row without a label\n")
    code, err, run = _pretrain(["--source", f"tsv:{path},label=label"], tmp_path, capsys)
    assert code == 2 and err == [f"tf-transformer: error: {path}:3: empty label"]
    assert not run.exists()


@pytest.mark.slow  # trains: an end-to-end run
def test_shares_are_recorded_in_the_config(tmp_path, capsys):
    """A short run on a plain file and a labelled file: config.json names both sources and
    their shares; the history has tokens a second."""
    plain = tmp_path / "unsup.txt"
    plain.write_text("\n".join(reviews(600, 5)) + "\n")
    labelled = tmp_path / "train.tsv"
    labelled.write_text("label\ttext\n" + "".join(f"0\t{t}\n" for t in reviews(200, 6)))
    source = f"{plain}+tsv:{labelled},label=label"
    args = ["--source", source, "--seq-len", "32", "--batch-size", "8", "--epochs", "1"]
    args += ["--steps-per-epoch", "3", "--vocab-size", "200", "--mixed-precision", "float32"]
    code, _, run = _pretrain(args, tmp_path, capsys)
    assert code == 0
    with open(run / "config.json") as handle:
        config = json.load(handle)
    sources = config["text"]["sources"]
    assert list(sources) == [str(plain), f"tsv:{labelled},label=label"]
    assert config["whole_word_masking"] is True and config["keep_markup"] is False
    with open(run / "history.json") as handle:
        history = json.load(handle)
    # tokens a second are the windows' tokens over the measured step time
    assert history["tokens_per_second"][0] == pytest.approx(
        8 * 32 / (history["ms_per_step"][0] / 1000), rel=1e-6
    )
    assert os.path.isfile(run / "model.keras")

    # continued on longer windows (`--init-from` with a new `--seq-len`): the same model and
    # vocabulary, windows of 64; without `--seq-len` a continuation keeps the run's 32
    longer, same = tmp_path / "longer", tmp_path / "same"
    common = ["--source", source, "--batch-size", "8", "--epochs", "1", "--steps-per-epoch", "2"]
    common += ["--mixed-precision", "float32", "--preset", "bert_tiny", "--init-from", str(run)]
    assert cli.main(["bert", "pretrain", *common, "--seq-len", "64", "--run-dir", str(longer)]) == 0
    assert "trained on windows of 32, continues on windows of 64" in capsys.readouterr().out
    assert cli.main(["bert", "pretrain", *common, "--run-dir", str(same)]) == 0
    for directory, seq_len in [(longer, 64), (same, 32)]:
        with open(directory / "config.json") as handle:
            assert json.load(handle)["seq_len"] == seq_len
        with open(directory / "history.json") as handle:
            history = json.load(handle)
        assert history["tokens_per_second"][0] == pytest.approx(
            8 * seq_len / (history["ms_per_step"][0] / 1000), rel=1e-6
        )
        with (
            open(directory / "tokenizer" / "vocab.txt") as mine,
            open(run / "tokenizer" / "vocab.txt") as first,
        ):
            assert mine.read() == first.read()


def test_a_classifier_reads_the_head_and_tail_of_a_long_text(tokenizer):
    from tf_transformer.models import BertClassifier
    from tf_transformer.serving.bert import TextClassifier

    model = BertClassifier.from_preset("bert_tiny", vocab_size=tokenizer.vocab_size, num_classes=2)
    classifier = TextClassifier(model, tokenizer, seq_len=16, keep="head+tail", markup=False)
    # 14 pieces between [CLS] and [SEP]: the first 4 and the last 10 are read
    head, tail = "good bad plot actor", "the a film was good bad plot actor scene long"
    texts = [
        f"{head} {'funny ' * 30}{tail}",
        f"{head} {'boring ' * 30}{tail}",  # another middle: cut, not read
        f"{head} {'boring ' * 30}{tail} great",  # another last word: read
        f"{head}<br />{'funny ' * 30}{tail}",  # markup: stripped
    ]
    probabilities = classifier.predict(texts)["probabilities"]
    np.testing.assert_array_equal(probabilities[0], probabilities[1])
    np.testing.assert_array_equal(probabilities[0], probabilities[3])
    assert not np.array_equal(probabilities[0], probabilities[2])


def test_a_tfds_dataset_is_a_source_offline():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=30):
        documents = load_documents("tfds:imdb_reviews", log=quiet)
        texts = [t.decode() for t in documents.dataset("train").as_numpy_iterator()]
    assert documents.size("train") == len(texts) == 30  # the mock's train split, whole
    assert documents.size("validation") == 30 and all(isinstance(t, str) for t in texts)
