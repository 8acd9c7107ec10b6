"""The tokenizers on the published vocabularies (`bert-base-uncased`'s `vocab.txt`,
GPT-2's `vocab.json` and `merges.txt`, from `../shared/data/vocab`) against Hugging Face's
`tokenizers`, id for id, on text of every Unicode category, whitespace runs, control
characters, emoji sequences, long words in several scripts and the empty string.

Characters are drawn from those whose category is the same in Unicode 3.2 as today:
`tokenizers` carries older Unicode tables than TensorFlow's, so a character assigned (or
recategorised) since can be punctuation to one and a letter to the other.
Where the references disagree among themselves, Google's BERT is followed (tested last)."""

import os
import random
import unicodedata

import pytest
import tensorflow as tf

from tf_transformer.text import BertVocabTokenizer, BytePairTokenizer

tokenizers = pytest.importorskip("tokenizers")

VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "vocab")
BERT = os.path.join(VOCAB, "bert-base-uncased", "vocab.txt")
GPT2 = [os.path.join(VOCAB, "gpt2", name) for name in ("vocab.json", "merges.txt")]
needs_bert = pytest.mark.skipif(
    not os.path.isfile(BERT), reason="the published bert-base-uncased vocab.txt is absent"
)
needs_gpt2 = pytest.mark.skipif(
    not all(map(os.path.isfile, GPT2)), reason="the published GPT-2 vocab.json/merges.txt absent"
)


def category_texts(per_category=24):
    """For each Unicode general category (surrogates aside), a text of 24 of its
    characters stable since Unicode 3.2: alone, after a letter, between letters."""
    found = {}
    for point in range(0x110000):
        char = chr(point)
        category = unicodedata.category(char)
        if category != "Cs" and unicodedata.ucd_3_2_0.category(char) == category:
            found.setdefault(category, []).append(char)
    rng, texts = random.Random(0), []
    for _, chars in sorted(found.items()):
        pick = rng.sample(chars, min(per_category, len(chars)))
        texts.append("".join(pick[:8]) + " a" + " ".join(pick[8:16]) + "b " + "x".join(pick[16:]))
    return texts


EDGES = [
    "",
    " ",
    "a  \t\n\n  b\r\n",
    "\u3000x\xa0y\u2003z\u2028w\u2029v",
    "\x00\x01a\x7f\x9fb\u200bc\ufeffd\ufffd",
    "👨‍👩‍👧 🇫🇷🇩🇪 👍🏽 1️⃣ ❤️ 🏳️‍🌈",
    "İstanbul ǅ ß ẞ ﬁ Ⅻ ① Ǆemal",
    "東京" * 30 + " 東京都に住む",
    "x" * 120 + " " + "ж" * 100 + " " + "ж" * 101 + " " + "ü" * 101,
    "مرحبا" * 20 + " " + "שלום" * 26 + " " + "नमस्ते" * 17,
    "  leading and trailing  ",
    "Don't stop--ever... (really?) [yes] {ok} <tag> $5.00 #1 @me",
    "Café NAÏVE résumé ÀÉÎÕÜ Ångström",
]
TEXTS = category_texts() + EDGES


@needs_bert
@pytest.mark.parametrize(
    "lowercase, strip_accents, cjk",
    [(True, None, True), (False, None, True), (True, False, False)],
    ids=["uncased", "cased", "keep-accents-and-cjk"],
)
def test_bert_wordpiece_equals_tokenizers_id_for_id(lowercase, strip_accents, cjk):
    reference = tokenizers.BertWordPieceTokenizer(
        BERT, lowercase=lowercase, strip_accents=strip_accents, handle_chinese_chars=cjk
    )
    with open(BERT, encoding="utf-8") as handle:
        ours = BertVocabTokenizer(
            handle.read().splitlines(), lowercase, strip_accents=strip_accents, split_cjk=cjk
        )
    expected = [reference.encode(text, add_special_tokens=False).ids for text in TEXTS]
    got = ours.tokenize(tf.constant(TEXTS)).to_list()
    different = [text for text, e, g in zip(TEXTS, expected, got, strict=True) if e != g]
    assert not different, f"{len(different)} texts differ, the first {different[0]!r}"
    assert sum(i != ours.unk_id for row in expected for i in row) > 400  # not all [UNK]


@needs_gpt2
def test_gpt2_byte_level_bpe_equals_tokenizers_id_for_id_and_round_trips():
    reference = tokenizers.ByteLevelBPETokenizer(*GPT2, add_prefix_space=False)
    ours = BytePairTokenizer.from_files(*GPT2)
    texts = TEXTS + ["<|endoftext|> is text here", "\x00 nul and \\ backslash"]
    expected = [reference.encode(text).ids for text in texts]
    ids = ours.tokenize(tf.constant(texts))
    different = [t for t, e, g in zip(texts, expected, ids.to_list(), strict=True) if e != g]
    assert not different, f"{len(different)} texts differ, the first {different[0]!r}"
    assert [t.decode("utf-8") for t in ours.detokenize(ids).numpy()] == texts


@needs_bert
def test_where_references_disagree():
    """A literal `[MASK]` is text to Google's BERT (and KerasHub), the mask id to Hugging
    Face's `tokenizers`: each is followed with `special_text` off (the default) or on (a
    Hugging Face import). A capital sigma ending a word lowercases to ς, as Python's
    `str.lower()` in Google's BERT does (`tokenizers` gives σ)."""
    with open(BERT, encoding="utf-8") as handle:
        vocab = handle.read().splitlines()
    google = BertVocabTokenizer(vocab, lowercase=True)
    hugging_face = BertVocabTokenizer(vocab, lowercase=True, special_text=("[MASK]", "[SEP]"))
    reference = tokenizers.BertWordPieceTokenizer(BERT, lowercase=True)
    texts = ["[MASK]", "a [MASK] b[SEP]c", "ΟΔΟΣ"]
    pieces = [[vocab[i] for i in row] for row in google.tokenize(tf.constant(texts))]
    assert pieces[0] == ["[", "mask", "]"]
    assert "".join(pieces[2]).replace("#", "") == "ΟΔΟΣ".lower() == "οδος"
    assert "ΟΔΟΣ".lower()[-1] == "ς" and reference.normalizer.normalize_str("ΟΔΟΣ")[-1] == "σ"
    expected = [reference.encode(text, add_special_tokens=False).ids for text in texts[:2]]
    assert hugging_face.tokenize(tf.constant(texts[:2])).to_list() == expected
    assert expected[0] == [vocab.index("[MASK]")]


@needs_bert
def test_bert_separators_and_long_words_in_any_script():
    """U+2028/U+2029 separate words; the 100-character limit counts characters."""
    reference = tokenizers.BertWordPieceTokenizer(BERT, lowercase=True)
    ours = BertVocabTokenizer.from_file(BERT, lowercase=True)
    texts = [
        "line\u2028sep",
        "para\u2029graph and\u2028\u2029both",
        "б" * 51,
        "б" * 100,
        "б" * 101,
        "λόγος" * 20,
        "λόγος" * 21,
        "東" + "a" * 99,
        "مرحبا" * 20 + "x",
        "a" * 100 + " " + "a" * 101,
        "short words, then " + "ü" * 60,
    ]
    expected = [reference.encode(text, add_special_tokens=False).ids for text in texts]
    assert ours.tokenize(tf.constant(texts)).to_list() == expected
