import functools
import unicodedata

import numpy as np
import pytest
import tensorflow as tf

from pipelines.corpora import load_corpus
from tf_transformer.text import (
    RESERVED_TOKENS,
    SentencePieceTokenizer,
    WordPieceTokenizer,
)


@functools.lru_cache(maxsize=1)
def texts():
    corpus = load_corpus("cldr:en-pt", size=4000)
    return corpus.texts("train", side=1), corpus.texts("test", side=1)


@functools.lru_cache(maxsize=2)
def trained(kind):
    train, _ = texts()
    if kind == "sentencepiece":
        return SentencePieceTokenizer.train(train, vocab_size=800)
    return WordPieceTokenizer.train(train, vocab_size=800)


KINDS = ["sentencepiece", "wordpiece"]


def is_punctuation(char):
    """BERT's rule, which TF Text's word splitting follows: ASCII symbols or Unicode P*."""
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def normalized_words(text):
    """What WordPiece keeps of a text: words and punctuation, one space apart."""
    spaced = "".join(f" {c} " if is_punctuation(c) else c for c in text)
    return " ".join(spaced.split())


@pytest.mark.parametrize("kind", KINDS)
def test_reserved_tokens_have_fixed_ids(kind):
    tokenizer = trained(kind)
    ids = tf.constant(list(range(len(RESERVED_TOKENS))), tf.int32)
    assert [t.decode() for t in tokenizer.lookup(ids).numpy()] == list(RESERVED_TOKENS)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.start_id) == (0, 1, 2)
    assert (tokenizer.end_id, tokenizer.mask_id) == (3, 4)
    assert tokenizer.vocab_size <= 800 + 256 + len(RESERVED_TOKENS)


def test_sentencepiece_round_trip_is_exact_even_for_unseen_characters():
    tokenizer = trained("sentencepiece")
    _, held_out = texts()
    samples = held_out[:300] + ["olá 🙂 мир 東京", "Zürich, 3 ½ km"]
    ids = tokenizer.tokenize(tf.constant(samples))
    assert ids.dtype == tf.int32
    back = [t.decode() for t in tokenizer.detokenize(ids).numpy()]
    assert back == samples
    assert not np.any(ids.flat_values.numpy() == tokenizer.unk_id)  # byte fallback


def test_wordpiece_round_trip_on_normalized_text():
    tokenizer = trained("wordpiece")
    _, held_out = texts()
    ids = tokenizer.tokenize(tf.constant(held_out[:300]))
    known = [i for i, row in enumerate(ids.to_list()) if tokenizer.unk_id not in row]
    assert len(known) >= len(ids.to_list()) - 3  # held-out words are covered by train's
    back = [t.decode() for t in tokenizer.detokenize(ids).numpy()]
    assert [back[i] for i in known] == [normalized_words(held_out[i]) for i in known]
    pieces = tokenizer.lookup(tokenizer.tokenize(tf.constant(["quilômetrosabril"]))[0]).numpy()
    assert len(pieces) > 1 and all(p.startswith(b"##") for p in pieces[1:])
    assert b"".join(p.replace(b"##", b"") for p in pieces) == "quilômetrosabril".encode()
    # a word with a character the vocabulary never saw is one [UNK], dropped on the way back
    unseen = tokenizer.tokenize(tf.constant(["1 ☃ quilômetro"]))
    assert tokenizer.unk_id in unseen[0].numpy()
    assert tokenizer.detokenize(unseen).numpy()[0].decode() == "1 quilômetro"


@pytest.mark.parametrize("kind", KINDS)
def test_detokenize_drops_reserved_tokens_from_padded_batches(kind):
    tokenizer = trained(kind)
    ids = tokenizer.tokenize(tf.constant(["1 quilômetro", "sábado"]))
    framed = tf.concat([tf.fill([2, 1], 2), ids, tf.fill([2, 1], 3)], axis=1).to_tensor()
    assert framed.shape[1] > ids.bounding_shape()[1]  # padded with [PAD] = 0
    expected = tokenizer.detokenize(ids).numpy()
    np.testing.assert_array_equal(tokenizer.detokenize(framed).numpy(), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizer_saved_alone_gives_the_same_ids(kind, tmp_path):
    tokenizer = trained(kind)
    _, held_out = texts()
    batch = tf.constant(held_out[:50])
    expected = tokenizer.tokenize(batch)

    tf.saved_model.save(tokenizer, str(tmp_path / "saved_model"))
    reloaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    assert reloaded.tokenize(batch).to_list() == expected.to_list()
    np.testing.assert_array_equal(
        reloaded.detokenize_dense(expected.to_tensor()).numpy(),
        tokenizer.detokenize(expected).numpy(),
    )

    tokenizer.save(str(tmp_path / "files"))
    again = type(tokenizer).load(str(tmp_path / "files"))
    assert again.tokenize(batch).to_list() == expected.to_list()


@pytest.mark.parametrize("kind", KINDS)
def test_tokenizers_run_inside_tf_data(kind):
    tokenizer = trained(kind)
    dataset = tf.data.Dataset.from_tensor_slices(["1 quilômetro", "sábado", ""]).batch(2)
    dataset = dataset.map(tokenizer.tokenize)
    rows = [row for batch in dataset for row in batch.to_list()]
    assert len(rows) == 3 and rows[2] == []


def test_vocabulary_must_start_with_the_reserved_tokens():
    with pytest.raises(ValueError, match="must start with"):
        WordPieceTokenizer(["a", "b"])


def test_a_vocabulary_smaller_than_the_texts_characters_is_one_line():
    from tf_transformer.errors import InputError

    texts = ["".join(chr(0x4E00 + i) for i in range(j, j + 20)) for j in range(0, 400, 20)]
    with pytest.raises(InputError) as error:
        SentencePieceTokenizer.train(texts, vocab_size=40)
    assert str(error.value) == (
        "a vocabulary of 40 pieces is smaller than the training text's 662 distinct "
        "characters and special tokens; raise --vocab-size"
    )


# Character and byte tokenizers (`gpt train --tokenizer char|byte`) ----------------------


def test_character_tokenizer_has_one_id_per_character_of_its_texts():
    from tf_transformer.text import CharacterTokenizer

    tokenizer = CharacterTokenizer.train(["to be,\nor not", "tö 🙂"])
    characters = sorted(set("to be,\nor not" + "tö 🙂"))
    assert tokenizer.vocab_size == len(RESERVED_TOKENS) + len(characters)
    text = "not to be 🙂\n"
    ids = tokenizer.tokenize(tf.constant([text, ""])).to_list()
    assert ids[0] == [len(RESERVED_TOKENS) + characters.index(c) for c in text]
    assert ids[1] == []
    assert tokenizer.detokenize(tf.ragged.constant(ids)).numpy().tolist() == [text.encode(), b""]
    # unseen characters and invalid UTF-8 are [UNK] (and dropped by detokenize)
    unseen = tokenizer.tokenize(tf.constant(["xo", b"o\xff"])).to_list()
    assert unseen == [[tokenizer.unk_id, ids[0][1]], [ids[0][1], tokenizer.unk_id]]


def test_byte_tokenizer_round_trips_every_string():
    from tf_transformer.text import ByteTokenizer

    tokenizer = ByteTokenizer()
    assert tokenizer.vocab_size == len(RESERVED_TOKENS) + 256
    strings = [
        b"",
        b"plain",
        "héllo 🙂 мир".encode(),
        b"\x00nul\x00",
        bytes(range(256)),
        b"\xff\xfe",
    ]
    ids = tokenizer.tokenize(tf.constant(strings))
    assert ids.to_list() == [[b + len(RESERVED_TOKENS) for b in s] for s in strings]
    assert tokenizer.detokenize(ids).numpy().tolist() == strings


@pytest.mark.parametrize("kind", ["char", "byte"])
def test_character_and_byte_tokenizers_save_load_and_run_in_tf_data(kind, tmp_path):
    from tf_transformer.text import ByteTokenizer, CharacterTokenizer, load_tokenizer

    tokenizer = CharacterTokenizer.train(["abc d"]) if kind == "char" else ByteTokenizer()
    tokenizer.save(str(tmp_path))
    loaded = load_tokenizer(str(tmp_path))
    assert type(loaded) is type(tokenizer)
    texts = ["a b", "dcba", "zz"]
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(2).map(loaded.tokenize)
    in_graph = [row for batch in dataset for row in batch.to_list()]
    assert in_graph == tokenizer.tokenize(tf.constant(texts)).to_list()
