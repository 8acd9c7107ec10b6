"""SentencePiece: a model trained with the `sentencepiece` library, run in the graph with
TF Text's `SentencepieceTokenizer`."""

import hashlib
import io
import re

import sentencepiece as spm
import tensorflow as tf
import tensorflow_text as tf_text

from tf_transformer.errors import InputError
from tf_transformer.text.tokenizer import Tokenizer, TrainingProgress


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece unigram model with byte fallback, so no text is ever `[UNK]`.

    `detokenize(tokenize(x)) == x` for normalized text (single spaces, no leading or
    trailing space). The model proto is kept in the graph and in `save()`'s
    `sentencepiece.model`.

    Example:
    ```python
    import tensorflow as tf
    from tf_transformer.text import SentencePieceTokenizer
    texts = ["the cat sat", "the cats sat down", "a dog sat"] * 10
    tokenizer = SentencePieceTokenizer.train(texts, vocab_size=300)
    ids = tokenizer.tokenize(tf.constant(["the cat sat down"]))
    tokenizer.detokenize(ids)  # [b"the cat sat down"]
    ```
    """

    def __init__(self, model_proto: bytes, name="sentencepiece_tokenizer"):
        processor = spm.SentencePieceProcessor(model_proto=model_proto)
        vocab = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        super().__init__(vocab, name=name)
        self.model_proto = model_proto
        self._digest = hashlib.sha1(model_proto).hexdigest()[:16]

    def _processor(self):
        # Made inside the traced function, not kept on the module: TF Text's SentencePiece
        # resource is owned by the kernel that creates it, and an eagerly created one can
        # vanish when TensorFlow evicts that kernel ("Resource ... does not exist").
        # A name of its own per model: TF Text's op keys its resource by node name, so two
        # models (source and target) under one default name would share one resource.
        return tf_text.SentencepieceTokenizer(
            model=self.model_proto, out_type=tf.int32, name=f"sentencepiece_{self._digest}"
        )

    @classmethod
    def train(cls, texts, vocab_size=8000, split_digits=True, byte_fallback=True):
        """Trains a unigram model of `vocab_size` pieces on a list of strings."""
        texts = [" ".join(t.split()) for t in texts if t.strip()]
        progress = TrainingProgress("SentencePiece model", len(texts))
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=(t for batch in progress.batches(texts) for t in batch),
                model_writer=model,
                vocab_size=vocab_size,
                model_type="unigram",
                character_coverage=1.0,
                normalization_rule_name="identity",
                split_digits=split_digits,
                byte_fallback=byte_fallback,
                hard_vocab_limit=False,
                pad_id=0,
                unk_id=1,
                bos_id=2,
                eos_id=3,
                pad_piece="[PAD]",
                unk_piece="[UNK]",
                bos_piece="[START]",
                eos_piece="[END]",
                control_symbols=["[MASK]"],
                minloglevel=2,
            )
        except RuntimeError as error:  # sentencepiece reports what it cannot do this way
            raise InputError(_training_error(str(error), vocab_size)) from None
        tokenizer = cls(model.getvalue())
        progress.done(tokenizer.vocab_size)
        return tokenizer

    def _tokenize(self, strings):
        return self._processor().tokenize(strings)

    def _detokenize(self, ids):
        return self._processor().detokenize(ids)

    file_name = "sentencepiece.model"

    def file_bytes(self) -> bytes:
        return self.model_proto

    @classmethod
    def from_file_bytes(cls, data: bytes):
        return cls(data)


def _training_error(message: str, vocab_size: int) -> str:
    """sentencepiece's training error as one line a user can act on."""
    needed = re.search(r"required_chars.*?(\d+) vs (\d+)", message)
    if needed:
        return (
            f"a vocabulary of {vocab_size:,} pieces is smaller than the training text's "
            f"{int(needed.group(2)):,} distinct characters and special tokens; raise --vocab-size"
        )
    return f"SentencePiece cannot learn {vocab_size:,} pieces: {message.rpartition('] ')[2]}"
