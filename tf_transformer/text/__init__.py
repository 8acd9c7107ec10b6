"""Tokenizers as `tf.Module`s: they run inside `tf.data` and inside exported SavedModels."""

from tf_transformer.text.sentencepiece_tokenizer import SentencePieceTokenizer
from tf_transformer.text.tokenizer import (
    END_ID,
    MASK_ID,
    PAD_ID,
    RESERVED_TOKENS,
    START_ID,
    UNK_ID,
    Tokenizer,
)
from tf_transformer.text.wordpiece_tokenizer import WordPieceTokenizer

__all__ = [
    "END_ID",
    "MASK_ID",
    "PAD_ID",
    "RESERVED_TOKENS",
    "START_ID",
    "UNK_ID",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WordPieceTokenizer",
]
