"""Keras layers of the Transformer: positions, attention, feed-forward, encoder, decoder;
and for taggers a linear-chain CRF and each word's own embedding and character CNN."""

from tf_transformer.layers.attention import (
    BaseAttention,
    CausalSelfAttention,
    CrossAttention,
    GlobalSelfAttention,
)
from tf_transformer.layers.cached_multi_head_attention import CachedMultiHeadAttention
from tf_transformer.layers.capture import Capture, Record, capture
from tf_transformer.layers.crf import LinearChainCRF
from tf_transformer.layers.decoder import Decoder, DecoderLayer
from tf_transformer.layers.encoder import Encoder, EncoderLayer
from tf_transformer.layers.feed_forward import FeedForward
from tf_transformer.layers.masks import causal_mask, merge_masks, padding_mask
from tf_transformer.layers.positional_embedding import (
    PositionalEmbedding,
    positional_encoding,
    sinusoids,
)
from tf_transformer.layers.word_embedding import WordCharacterEmbedding

__all__ = [
    "BaseAttention",
    "CachedMultiHeadAttention",
    "Capture",
    "CausalSelfAttention",
    "CrossAttention",
    "Decoder",
    "DecoderLayer",
    "Encoder",
    "EncoderLayer",
    "FeedForward",
    "GlobalSelfAttention",
    "LinearChainCRF",
    "PositionalEmbedding",
    "Record",
    "WordCharacterEmbedding",
    "capture",
    "causal_mask",
    "merge_masks",
    "padding_mask",
    "positional_encoding",
    "sinusoids",
]
