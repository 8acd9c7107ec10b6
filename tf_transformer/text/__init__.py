"""Tokenizers as `tf.Module`s: they run inside `tf.data` and inside exported SavedModels;
and a tagger's per-word lookups (`WordFeatures`), which run there too."""

from tf_transformer.text.bert_vocab_tokenizer import BertVocabTokenizer
from tf_transformer.text.byte_pair_tokenizer import BytePairTokenizer
from tf_transformer.text.character_tokenizers import ByteTokenizer, CharacterTokenizer
from tf_transformer.text.loading import load_tokenizer
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
from tf_transformer.text.word_features import WordFeatures
from tf_transformer.text.wordpiece_tokenizer import WordPieceTokenizer

__all__ = [
    "BertVocabTokenizer",
    "BytePairTokenizer",
    "ByteTokenizer",
    "CharacterTokenizer",
    "END_ID",
    "MASK_ID",
    "PAD_ID",
    "RESERVED_TOKENS",
    "START_ID",
    "UNK_ID",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WordFeatures",
    "WordPieceTokenizer",
    "load_tokenizer",
]
