"""Character- and byte-level tokenizers: one id a character (the characters a text uses) or
one id a byte (all 256), the tokenizers char-rnn and nanoGPT train small GPTs with."""

import json

import tensorflow as tf

from tf_transformer.text.tokenizer import RESERVED_TOKENS, UNK_ID, Tokenizer, TrainingProgress

FIRST_ID = len(RESERVED_TOKENS)


class CharacterTokenizer(Tokenizer):
    """One id per Unicode character of a fixed set (the reserved tokens first); a character
    outside the set is `[UNK]` (invalid UTF-8 reads as U+FFFD, unknown unless in the set).

    `detokenize(tokenize(x)) == x` for text whose characters are all in the set.

    Example:
    ```python
    import tensorflow as tf
    from tf_transformer.text import CharacterTokenizer
    tokenizer = CharacterTokenizer.train(["to be, or not to be"])
    tokenizer.vocab_size  # 5 reserved + 9 characters
    ids = tokenizer.tokenize(tf.constant(["not to be"]))
    tokenizer.detokenize(ids)  # [b"not to be"]
    ```
    """

    file_name = "characters.json"
    learns_from_sample = False

    def __init__(self, characters, name="character_tokenizer"):
        characters = sorted(set(characters))
        if not characters or any(len(c) != 1 for c in characters):
            raise ValueError("characters must be a non-empty collection of single characters")
        super().__init__(list(RESERVED_TOKENS) + characters, name=name)
        self.characters = characters
        # Sorted code points: an id is found by binary search, with no lookup table to own.
        self._codepoints = tf.constant([ord(c) for c in characters], tf.int32)

    @classmethod
    def train(cls, texts, vocab_size=None):
        """The characters of `texts` (`vocab_size` is not used: the text decides it)."""
        progress = TrainingProgress("character vocabulary", len(texts))
        characters = set()
        for batch in progress.batches(texts):
            for text in batch:
                characters.update(text)
        if not characters:
            raise ValueError("no characters: the texts are empty")
        tokenizer = cls(characters)
        progress.done(tokenizer.vocab_size)
        return tokenizer

    def _tokenize(self, strings):
        codepoints = tf.strings.unicode_decode(
            strings, "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        flat = codepoints.flat_values
        count = tf.shape(self._codepoints)[0]
        index = tf.minimum(tf.searchsorted(self._codepoints, flat), count - 1)
        known = tf.equal(tf.gather(self._codepoints, index), flat)
        ids = tf.where(known, index + FIRST_ID, UNK_ID)
        return codepoints.with_flat_values(tf.cast(ids, tf.int32))

    def _detokenize(self, ids):
        return tf.strings.reduce_join(tf.gather(self.vocab, ids), axis=-1)

    def file_bytes(self) -> bytes:
        return json.dumps(self.characters, ensure_ascii=False).encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes):
        return cls(json.loads(data.decode("utf-8")))


class ByteTokenizer(Tokenizer):
    """One id per byte of the UTF-8 text (the reserved tokens first, then bytes 0-255):
    nothing is unknown and `detokenize(tokenize(x)) == x` for every string.

    Example:
    ```python
    import tensorflow as tf
    from tf_transformer.text import ByteTokenizer
    tokenizer = ByteTokenizer()
    tokenizer.tokenize(tf.constant(["hé"])).to_list()  # [[109, 200, 174]]
    tokenizer.detokenize(tokenizer.tokenize(tf.constant(["hé"])))  # [b"h\\xc3\\xa9"]
    ```
    """

    file_name = "bytes.json"
    learns_from_sample = False

    def __init__(self, name="byte_tokenizer"):
        super().__init__(list(RESERVED_TOKENS) + [bytes([b]) for b in range(256)], name=name)

    @classmethod
    def train(cls, texts=None, vocab_size=None):
        """The byte tokenizer (nothing to learn: the arguments are not used)."""
        return cls()

    def _tokenize(self, strings):
        pieces = tf.strings.bytes_split(strings)
        values = tf.reshape(tf.io.decode_raw(pieces.flat_values, tf.uint8), [-1])
        return pieces.with_flat_values(tf.cast(values, tf.int32) + FIRST_ID)

    def _detokenize(self, ids):
        return tf.strings.reduce_join(tf.gather(self.vocab, ids), axis=-1)

    def file_bytes(self) -> bytes:
        return json.dumps({"kind": "bytes", "first_id": FIRST_ID}).encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes):
        record = json.loads(data.decode("utf-8"))
        if record.get("first_id") != FIRST_ID:
            raise ValueError(f"a byte tokenizer file with first_id {record.get('first_id')}")
        return cls()
