"""A saved tokenizer of any kind, found by the file its directory holds."""

import os

from tf_transformer.text.bert_vocab_tokenizer import BertVocabTokenizer
from tf_transformer.text.byte_pair_tokenizer import BytePairTokenizer
from tf_transformer.text.character_tokenizers import ByteTokenizer, CharacterTokenizer
from tf_transformer.text.sentencepiece_tokenizer import SentencePieceTokenizer
from tf_transformer.text.wordpiece_tokenizer import WordPieceTokenizer

TOKENIZER_CLASSES = (
    SentencePieceTokenizer,
    WordPieceTokenizer,
    BytePairTokenizer,
    BertVocabTokenizer,
    CharacterTokenizer,
    ByteTokenizer,
)


def saved_tokenizer_class(directory: str):
    """The class whose file `directory` holds, or None."""
    for cls in TOKENIZER_CLASSES:
        if os.path.isfile(os.path.join(directory, cls.file_name)):
            return cls
    return None


def load_tokenizer(directory: str):
    """The tokenizer `save` wrote into `directory`, whichever kind it is."""
    cls = saved_tokenizer_class(directory)
    if cls is None:
        names = ", ".join(c.file_name for c in TOKENIZER_CLASSES)
        raise FileNotFoundError(f"{directory}: no tokenizer file ({names})")
    return cls.load(directory)
