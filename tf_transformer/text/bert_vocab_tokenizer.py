"""BERT's WordPiece with a published checkpoint's `vocab.txt`, its special tokens at the
file's own ids (`[PAD]`=0, `[UNK]`=100, `[CLS]`=101, `[SEP]`=102, `[MASK]`=103 in
`bert-base-uncased`)."""

import json

import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.text.tokenizer import Tokenizer

ROLE_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "start": "[CLS]", "end": "[SEP]", "mask": "[MASK]"}

# BERT's word splitting: whitespace separates words (control characters but tab, newline
# and carriage return are dropped; the line and paragraph separators U+2028 and U+2029
# separate, as Python's `str.split` in BERT's code does), every punctuation character
# (ASCII symbols or Unicode P*) and CJK ideograph is a word.
_SPACE = r"\s\p{Zs}\x{2028}\x{2029}"
MAX_CHARS_PER_WORD = 100  # a longer word is [UNK], counted in characters as BERT counts
_CONTROL = r"\x{00}-\x{08}\x{0b}\x{0c}\x{0e}-\x{1f}\x{7f}-\x{9f}\x{fffd}\p{Cf}\p{Co}"
_PUNCTUATION = r"!-/:-@\[-`{-~\p{P}"
_CJK = (
    r"\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2B73F}"
    r"\x{2B740}-\x{2B81F}\x{2B820}-\x{2CEAF}\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}"
)


class BertVocabTokenizer(Tokenizer):
    """BERT's tokenizer from a checkpoint's `vocab.txt` (uncased or cased).

    Uncased (`lowercase=True`, the `*-uncased` checkpoints) lowercases and strips accents
    (NFD, combining marks dropped) before splitting; cased keeps the text. Words are split
    on whitespace, punctuation and CJK ideographs, control characters are dropped, and
    each word becomes the longest `##` pieces of the vocabulary (`[UNK]` for a word of
    more than 100 characters or one no pieces spell). `start_id`/`end_id` are `[CLS]`/`[SEP]`.

    `strip_accents` (default: as `lowercase`) and `split_cjk` (default True) are Hugging
    Face's `strip_accents` and `tokenize_chinese_chars`: `split_cjk=False` leaves CJK
    ideographs inside the words they touch.

    Example:
    ```python
    tokenizer = BertVocabTokenizer.from_file("bert-base-uncased/vocab.txt", lowercase=True)
    tokenizer.tokenize(tf.constant(["Hello, world!"]))  # [[7592, 1010, 2088, 999]]
    ```
    """

    def __init__(
        self,
        vocab,
        lowercase=True,
        strip_accents=None,
        split_cjk=True,
        name="bert_vocab_tokenizer",
        special_text=(),
    ):
        vocab = list(vocab)
        missing = [token for token in ROLE_TOKENS.values() if token not in vocab]
        if missing:
            raise ValueError(f"the vocabulary has no {', '.join(missing)}")
        special = {role: vocab.index(token) for role, token in ROLE_TOKENS.items()}
        super().__init__(vocab, name=name, special_ids=special, special_text=special_text)
        self.lowercase = bool(lowercase)
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self.split_cjk = bool(split_cjk)
        self._tokenizer = tf_text.FastWordpieceTokenizer(
            vocab=vocab,
            suffix_indicator="##",
            max_bytes_per_word=4 * MAX_CHARS_PER_WORD,  # never cuts: the length is ours
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            no_pretokenization=True,
            support_detokenization=True,
        )

    @classmethod
    def from_file(cls, path, lowercase=True):
        """A `vocab.txt`: one token a line, the line number its id."""
        with open(path, encoding="utf-8") as handle:
            return cls(handle.read().splitlines(), lowercase=lowercase)

    def words(self, strings):
        """The words WordPiece sees: ragged `(batch, (w))`."""
        text = tf.strings.regex_replace(strings, f"[{_CONTROL}]", "")
        if self.lowercase:
            # ICU's lowercasing, as Python's str.lower() in Google's BERT: a capital sigma
            # ending a word becomes the final form (Hugging Face's `tokenizers` gives σ)
            text = tf.strings.lower(text, encoding="utf-8")
        if self.strip_accents:
            text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFD"), r"\p{Mn}", "")
        keep = f"[{_PUNCTUATION}{_CJK if self.split_cjk else ''}]"
        return tf_text.regex_split(text, f"[{_SPACE}]+|{keep}", keep)

    def _tokenize(self, strings):
        words = self.words(strings)
        too_long = tf.strings.length(words.flat_values, unit="UTF8_CHAR") > MAX_CHARS_PER_WORD
        words = words.with_flat_values(tf.where(too_long, "[UNK]", words.flat_values))
        return self._tokenizer.tokenize(words).merge_dims(1, 2)

    def _detokenize(self, ids):
        return self._tokenizer.detokenize(ids)

    file_name = "bert_vocab.json"

    def file_bytes(self) -> bytes:
        vocab = [t.decode("utf-8") for t in self.vocab.numpy()]
        saved = {
            "vocab": vocab,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "split_cjk": self.split_cjk,
            "special_text": list(self.special_text),
        }
        return json.dumps(saved, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes):
        saved = json.loads(data.decode("utf-8"))
        return cls(
            saved["vocab"],
            lowercase=saved["lowercase"],
            strip_accents=saved.get("strip_accents"),
            split_cjk=saved.get("split_cjk", True),
            special_text=saved.get("special_text", ()),
        )
