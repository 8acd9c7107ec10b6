"""Greedy generation with the key/value cache against rerunning the decoder over the whole
prefix for every token (the tutorial's way): same model, 64 new tokens, batch 1 and 32.

    .venv/bin/python -m benchmarks.bench_generation
"""

import keras
import numpy as np
import tensorflow as tf

from benchmarks.common import machine, median_seconds, table
from tf_transformer.generation import generate, generate_without_cache
from tf_transformer.models import Transformer
from tf_transformer.text import START_ID

NEW_TOKENS = 64
NEVER = -1  # an end id no token has, so both loops run all 64 steps


def decoders(model, source):
    """The two greedy loops over the same model and source, compiled."""
    prompt = tf.fill([source.shape[0], 1], START_ID)

    @tf.function
    def cached():
        cache, static = model.start_decoding(source, NEW_TOKENS + 1)
        return generate(model.decode_step, prompt, cache, static, NEW_TOKENS, end_id=NEVER)

    @tf.function
    def rerun():
        return generate_without_cache(
            lambda ids: model((source, ids)), prompt, NEW_TOKENS, end_id=NEVER
        )

    return cached, rerun


def main():
    print(f"Machine: {machine()}\n")
    keras.utils.set_random_seed(0)
    model = Transformer.from_preset(
        "tutorial", input_vocab_size=4000, target_vocab_size=4000, max_length=NEW_TOKENS + 1
    )
    rows = []
    for batch in (1, 32):
        source = tf.constant(np.random.default_rng(0).integers(5, 4000, size=(batch, 24)), tf.int32)
        cached, rerun = decoders(model, source)
        np.testing.assert_array_equal(cached().numpy(), rerun().numpy())
        fast = median_seconds(cached)
        slow = median_seconds(rerun)
        tokens = batch * NEW_TOKENS
        rows.append(
            [batch, f"{tokens / fast:,.0f}", f"{tokens / slow:,.0f}", f"{slow / fast:.1f}x"]
        )
    print("Greedy decoding, tutorial preset, 64 new tokens (median of 5 after warm-up):\n")
    print(table(["batch", "cached tokens/s", "rerun tokens/s", "speed-up"], rows))


if __name__ == "__main__":
    main()
