"""Published checkpoints' tokenizers (BERT's `vocab.txt`, GPT-2's byte-level BPE) against
KerasHub's graph tokenizers, round trips, their special ids, and the C API loader."""

import collections
import functools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tf_transformer.serving import conformance
from tf_transformer.text import BertVocabTokenizer, BytePairTokenizer
from tf_transformer.text.byte_pair_tokenizer import END_OF_TEXT, byte_characters

keras_hub = pytest.importorskip("keras_hub")

MIXED = [
    "",
    "   ",
    "The cat sat on the mat.",
    "Café naïve, ÀÉÎ résumé!",
    "hello  world\n\nnew\tline  ",
    "aren't 's 'll x  'll I'm",
    "emoji 😀😀 and 东京 ideographs",
    "1234567 numbers, 3.14",
    "aaaa unaffable cats' hats",
    "trailing spaces   ",
]

TRAINING_TEXTS = [
    "the cat sat on the mat",
    "the cats' hats aren't here, I'm sure",
    "Café naïve résumé",
    "hello world new line",
    "emoji 😀 numbers 1234",
]


@functools.lru_cache(maxsize=1)
def tiny_bpe():
    """A vocabulary and 150 merges learned here, as GPT-2's were: byte characters first,
    then the most frequent adjacent pair of every word, over and over."""
    chars = byte_characters()
    counts = collections.Counter()
    for text in TRAINING_TEXTS:
        for word in text.split(" "):
            for spelled in (word, " " + word):
                counts["".join(chars[b] for b in spelled.encode("utf-8"))] += 1
    words = {word: list(word) for word in counts}
    merges = []
    for _ in range(150):
        pairs = collections.Counter()
        for word, symbols in words.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] += counts[word]
        if not pairs:
            break
        (a, b), _ = pairs.most_common(1)[0]
        merges.append((a, b))
        for word, symbols in words.items():
            merged, i = [], 0
            while i < len(symbols):
                if symbols[i : i + 2] == [a, b]:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            words[word] = merged
    vocab = list(dict.fromkeys(chars + [a + b for a, b in merges])) + [END_OF_TEXT]
    return vocab, merges


BERT_WORDS = ["the", "cat", "sat", "on", "mat", "cafe", "café", "naive", "resume", "hello"]
BERT_WORDS += ["world", "new", "line", "!", ",", ".", "'", "东", "京", "##s", "##ing", "a", "b"]
BERT_WORDS += ["c", "##a", "##b", "##c", "un", "##aff", "##able", "The", "Café", "1", "##2", "##3"]
# [UNK], [CLS], [SEP], [MASK] at ids of their own, as in bert-base-uncased (100..103)
BERT_VOCAB = ["[PAD]", "[unused0]"] + BERT_WORDS[:6] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
BERT_VOCAB += BERT_WORDS[6:]


def keras_hub_ids(tokenizer, texts):
    return [[int(i) for i in tokenizer(tf.constant(text))] for text in texts]


def test_byte_pair_ids_equal_keras_hub_and_every_text_round_trips():
    vocab, merges = tiny_bpe()
    ours = BytePairTokenizer(vocab, merges)
    hub = keras_hub.tokenizers.BytePairTokenizer(
        vocabulary={token: i for i, token in enumerate(vocab)},
        merges=[f"{a} {b}" for a, b in merges],
        _allow_python_workflow=False,  # its graph path (its Python path splits otherwise)
    )
    ids = ours.tokenize(tf.constant(MIXED))
    assert ids.to_list() == keras_hub_ids(hub, MIXED)
    assert max(len(row) for row in ids.to_list()) > 5  # merges were applied, not only bytes
    assert [t.decode("utf-8") for t in ours.detokenize(ids).numpy()] == MIXED
    hostile = ["\x00\x01 \u200b\u3000\xa0x", "<|endoftext|>", "🙂" * 50, "word " * 3000]
    back = ours.detokenize(ours.tokenize(tf.constant(hostile))).numpy()
    assert [t.decode("utf-8") for t in back] == hostile


def test_byte_pair_merges_a_repeated_pair_from_the_left():
    chars = byte_characters()
    vocab = chars + ["aa", "aaa", END_OF_TEXT]
    tokenizer = BytePairTokenizer(vocab, [("a", "a"), ("aa", "a")])
    tokens = tokenizer.lookup(tokenizer.tokenize(tf.constant(["aaaa", "aaaaa"])).flat_values)
    # "a a a a" -> "aa aa" (never "a aa a"); "a a a a a" -> "aa aa a" -> "aa aaa"
    assert [t.decode() for t in tokens.numpy()] == ["aa", "aa", "aa", "aaa"]


def test_byte_pair_special_ids_files_and_saving(tmp_path):
    vocab, merges = tiny_bpe()
    with open(tmp_path / "vocab.json", "w", encoding="utf-8") as handle:
        json.dump({token: i for i, token in enumerate(vocab)}, handle, ensure_ascii=False)
    with open(tmp_path / "merges.txt", "w", encoding="utf-8") as handle:
        handle.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = BytePairTokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")
    end = len(vocab) - 1
    assert tokenizer.special_ids == {"pad": end, "unk": end, "start": end, "end": end, "mask": None}
    ids = tokenizer.tokenize(tf.constant(MIXED))
    tokenizer.save(tmp_path / "saved")
    again = BytePairTokenizer.load(tmp_path / "saved")
    assert again.tokenize(tf.constant(MIXED)).to_list() == ids.to_list()
    # [END] ids are dropped from the text, as every tokenizer drops its special ids
    framed = tf.ragged.constant([[end] + ids.to_list()[2] + [end]], dtype=tf.int32)
    assert tokenizer.detokenize(framed).numpy()[0].decode() == MIXED[2]

    with open(tmp_path / "merges.txt", "a", encoding="utf-8") as handle:
        handle.write("one two three\n")
    with pytest.raises(ValueError, match=r"merges.txt:\d+: a merge is two tokens"):
        BytePairTokenizer.from_files(tmp_path / "vocab.json", tmp_path / "merges.txt")


@pytest.mark.parametrize("lowercase", [True, False], ids=["uncased", "cased"])
def test_bert_vocab_ids_equal_keras_hub(lowercase):
    ours = BertVocabTokenizer(BERT_VOCAB, lowercase=lowercase)
    hub = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=BERT_VOCAB,
        lowercase=lowercase,
        strip_accents=lowercase,  # as an uncased checkpoint's tokenizer does
        _allow_python_workflow=False,
    )
    ids = ours.tokenize(tf.constant(MIXED)).to_list()
    assert ids == keras_hub_ids(hub, MIXED)
    unk = BERT_VOCAB.index("[UNK]")
    assert unk in ids[6]  # the emoji
    assert sum(i != unk for row in ids for i in row) > 25  # most words are in the vocabulary


def test_bert_vocab_special_ids_are_the_files_and_text_is_cleaned_as_bert_does(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(token + "\n" for token in BERT_VOCAB), encoding="utf-8")
    tokenizer = BertVocabTokenizer.from_file(path, lowercase=True)
    expected = {"pad": 0, "unk": 8, "start": 9, "end": 10, "mask": 11}
    assert tokenizer.special_ids == expected
    assert [BERT_VOCAB[i] for i in expected.values()] == [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    ]
    # a no-break space separates words, a zero-width space (a format character) is dropped
    ids = tokenizer.tokenize(tf.constant(["a\xa0b\u200bc"])).to_list()[0]
    assert [BERT_VOCAB[i] for i in ids] == ["a", "b", "##c"]
    back = tokenizer.detokenize(tokenizer.tokenize(tf.constant(["The Cat, unaffable!"])))
    assert back.numpy()[0].decode() == "the cat , unaffable !"
    tokenizer.save(tmp_path / "saved")
    again = BertVocabTokenizer.load(tmp_path / "saved")
    assert again.lowercase and again.special_ids == expected
    with pytest.raises(ValueError, match=r"no \[MASK\]"):
        BertVocabTokenizer([t for t in BERT_VOCAB if t != "[MASK]"])


class Tokenize(tf.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, text):
        ids = self.tokenizer.tokenize(text)
        return {"ids": ids.to_tensor(-1), "text": self.tokenizer.detokenize(ids)}


@pytest.mark.parametrize("kind", ["bpe", "bert"])
def test_tokenizers_run_in_tf_data_and_through_the_c_api_loader(kind, tmp_path):
    if kind == "bpe":
        tokenizer = BytePairTokenizer(*tiny_bpe())
    else:
        tokenizer = BertVocabTokenizer(BERT_VOCAB)
    expected = tokenizer.tokenize(tf.constant(MIXED)).to_tensor(-1).numpy()
    batches = tf.data.Dataset.from_tensor_slices(MIXED).batch(4).map(tokenizer.tokenize)
    from_data = [row for batch in batches for row in batch.to_list()]
    assert from_data == tokenizer.tokenize(tf.constant(MIXED)).to_list()

    module = Tokenize(tokenizer)
    export_dir = os.path.join(tmp_path, "export")
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.__call__})
    answer = conformance.run_capi(export_dir, [("serving_default", {"text": MIXED})])
    conformance.audit_ops(answer["op_sources"])  # TF core and TF Text ops only
    served = answer["results"][0]
    np.testing.assert_array_equal(served["ids"], expected)
    in_process = module(tf.constant(MIXED))["text"].numpy()
    assert list(served["text"]) == list(in_process)
