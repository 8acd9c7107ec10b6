"""WordPiece: vocabulary learned with TF Text's `bert_vocab_from_dataset`, tokenized with
`FastWordpieceTokenizer` (splitting on whitespace and punctuation, case kept)."""

import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

from tf_transformer.text.tokenizer import RESERVED_TOKENS, Tokenizer, TrainingProgress


class WordPieceTokenizer(Tokenizer):
    """WordPiece over whitespace- and punctuation-split words, case and accents kept.

    `detokenize` rejoins `##` pieces and separates words (and punctuation) by one space,
    so `detokenize(tokenize(x))` equals `x` with spaces around punctuation.

    Example:
    ```python
    import tensorflow as tf
    from tf_transformer.text import WordPieceTokenizer
    texts = ["the cat sat", "the cats sat down", "a dog sat"] * 10
    tokenizer = WordPieceTokenizer.train(texts, vocab_size=60)
    ids = tokenizer.tokenize(tf.constant(["the cat sat down"]))
    tokenizer.detokenize(ids)  # [b"the cat sat down"]
    ```
    """

    def __init__(self, vocab, name="wordpiece_tokenizer"):
        super().__init__(vocab, name=name)
        self._tokenizer = tf_text.FastWordpieceTokenizer(
            vocab=list(vocab),
            token_out_type=tf.int32,
            unknown_token="[UNK]",
            no_pretokenization=False,
            support_detokenization=True,
        )

    @classmethod
    def train(cls, texts, vocab_size=8000, batch_size=1024):
        """Learns a vocabulary of at most `vocab_size` tokens from a list of strings."""
        texts = [t for t in texts if t.strip()]
        progress = TrainingProgress("WordPiece vocabulary", len(texts))
        dataset = tf.data.Dataset.from_generator(
            lambda: progress.batches(texts, batch_size),
            output_signature=tf.TensorSpec([None], tf.string),
        )
        vocab = bert_vocab.bert_vocab_from_dataset(
            dataset,
            vocab_size=vocab_size,
            reserved_tokens=list(RESERVED_TOKENS),
            bert_tokenizer_params={"lower_case": False},
            learn_params={},
        )
        progress.done(len(vocab))
        return cls(vocab)

    def _tokenize(self, strings):
        return self._tokenizer.tokenize(strings)

    def _detokenize(self, ids):
        return self._tokenizer.detokenize(ids)

    file_name = "vocab.txt"

    def file_bytes(self) -> bytes:
        return "".join(t.decode("utf-8") + "\n" for t in self.vocab.numpy()).encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes):
        return cls(data.decode("utf-8").splitlines())
