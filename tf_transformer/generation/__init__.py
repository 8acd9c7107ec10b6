"""Decoding: greedy, sampling (temperature, top-k, top-p) and beam search, in-graph and
batched, over a key/value cache; shared by the translator and the GPT."""

from tf_transformer.generation.decoding import beam_search, generate, generate_without_cache
from tf_transformer.generation.sampling import filter_top_k, filter_top_p, next_token

__all__ = [
    "beam_search",
    "filter_top_k",
    "filter_top_p",
    "generate",
    "generate_without_cache",
    "next_token",
]
