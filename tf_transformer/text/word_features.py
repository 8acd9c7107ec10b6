"""Each word's own features, for a tagger to read beside the encoder's pieces: the word's id
in a vocabulary of the training text's words, and the ids of its first characters (its
spelling: case, digits, prefixes and suffixes), both looked up in the graph."""

import collections
import json
import os

import tensorflow as tf

PAD, UNKNOWN = 0, 1  # in both vocabularies: padding, and a word (character) not in it
MAX_CHARACTERS = 20  # a word's first characters; a longer word's rest is not read


def _table(keys):
    """A lookup from `keys` to ids 2, 3, ..., `UNKNOWN` for any other string."""
    keys = tf.constant(list(keys) or [""], tf.string)
    ids = tf.range(2, tf.shape(keys)[0] + 2, dtype=tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, ids), UNKNOWN)


class WordFeatures(tf.Module):
    """Word and character ids of words, in the graph (`lookup`), so they run in `tf.data`
    and in an exported SavedModel. Id 0 is padding and 1 an unknown word (character) in
    both vocabularies; `words` and `chars` take ids 2, 3, ... in order. A word's
    characters are its first `max_characters` Unicode characters.

    Example:
    ```python
    import tensorflow as tf
    from tf_transformer.text.word_features import WordFeatures
    features = WordFeatures.from_words(["Paris", "is", "in", "France"])
    word_ids, char_ids = features.lookup(tf.constant(["Paris", "Lyon"]))
    word_ids.numpy()  # [2, 1]: "Lyon" is unknown
    ```
    """

    file_name = "word_features.json"

    def __init__(self, words, chars, max_characters=MAX_CHARACTERS, name="word_features"):
        super().__init__(name=name)
        self.words, self.chars = list(words), list(chars)
        self.max_characters = max_characters
        self._words = _table(self.words)
        self._chars = _table(self.chars)

    @classmethod
    def from_words(cls, words, max_words=30000, max_chars=200, max_characters=MAX_CHARACTERS):
        """The `max_words` most frequent of `words` (an iterable of strings, every
        occurrence) and the `max_chars` most frequent characters in them; ties in the
        order first seen."""
        counts = collections.Counter(words)
        letters = collections.Counter()
        for word, count in counts.items():
            for letter in word[:max_characters]:
                letters[letter] += count
        kept = [word for word, _ in counts.most_common(max_words) if word]
        return cls(kept, [c for c, _ in letters.most_common(max_chars)], max_characters)

    @property
    def word_vocab_size(self) -> int:
        return len(self.words) + 2

    @property
    def char_vocab_size(self) -> int:
        return len(self.chars) + 2

    @property
    def sizes(self) -> dict:
        """The vocabulary sizes a tagger's `word_features` (`WordCharacterEmbedding`) needs."""
        return {"word_vocab_size": self.word_vocab_size, "char_vocab_size": self.char_vocab_size}

    def lookup(self, words):
        """`(word_ids int32[n], char_ids int32[n, max_characters])` of the strings `words`
        `[n]`: a character past a word's end is `PAD`."""
        words = tf.convert_to_tensor(words, tf.string)
        letters = tf.strings.unicode_split(words, "UTF-8", errors="replace")
        letters = letters[:, : self.max_characters].to_tensor("", shape=[None, self.max_characters])
        chars = tf.where(tf.equal(letters, ""), PAD, self._chars.lookup(letters))
        return self._words.lookup(words), chars

    # Saving: one file, which also travels as an asset in an export that tracks it.

    def file_bytes(self) -> bytes:
        record = {"max_characters": self.max_characters, "words": self.words, "chars": self.chars}
        return json.dumps(record, ensure_ascii=False).encode("utf-8")

    def save(self, directory):
        """Writes `word_features.json` into `directory`."""
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, self.file_name), "wb") as handle:
            handle.write(self.file_bytes())

    @classmethod
    def load(cls, directory):
        """The features `save` wrote into `directory`."""
        with open(os.path.join(directory, cls.file_name), "rb") as handle:
            record = json.loads(handle.read().decode("utf-8"))
        return cls(record["words"], record["chars"], record["max_characters"])

    @classmethod
    def saved_in(cls, directory) -> bool:
        return os.path.isfile(os.path.join(directory, cls.file_name))
