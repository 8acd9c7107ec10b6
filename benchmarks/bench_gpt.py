"""GPT generation with and without the key/value cache (batch 1 and 8, 128 new tokens),
and training throughput of `gpt_mini` (float32 and bf16).

    .venv/bin/python -m benchmarks.bench_gpt
"""

import keras
import numpy as np
import tensorflow as tf

from benchmarks.common import machine, median_seconds, table
from tf_transformer.generation import generate, generate_without_cache
from tf_transformer.models import GPT

NEW_TOKENS = 128
PROMPT = 16
NEVER = -1  # an end id no token has: both loops run all steps


def generation_rows(model):
    rows = []
    for batch in (1, 8):
        prompt = tf.constant(
            np.random.default_rng(0).integers(5, 8000, size=(batch, PROMPT)), tf.int32
        )

        @tf.function
        def cached(prompt=prompt):
            cache = model.init_cache(tf.shape(prompt)[0], PROMPT + NEW_TOKENS)
            return generate(model.decode_step, prompt, cache, {}, NEW_TOKENS, end_id=NEVER)

        @tf.function
        def rerun(prompt=prompt):
            return generate_without_cache(model, prompt, NEW_TOKENS, end_id=NEVER)

        np.testing.assert_array_equal(cached().numpy(), rerun().numpy())
        fast, slow = median_seconds(cached), median_seconds(rerun)
        tokens = batch * NEW_TOKENS
        rows.append(
            [batch, f"{tokens / fast:,.0f}", f"{tokens / slow:,.0f}", f"{slow / fast:.1f}x"]
        )
    return rows


def training_rows(vocab=8000, batch=16, seq_len=128, steps=10):
    rows = []
    data = np.random.default_rng(0).integers(5, vocab, size=(batch * steps, seq_len + 1))
    x, y = data[:, :-1], data[:, 1:]
    for policy in ("float32", "mixed_bfloat16"):
        model = GPT.from_preset("gpt_mini", vocab_size=vocab, dtype=policy)
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(x[:batch], y[:batch], batch_size=batch, verbose=0)
        seconds = median_seconds(lambda m=model: m.fit(x, y, batch_size=batch, verbose=0))
        tokens_per_second = batch * steps * seq_len / seconds
        mfu_flops = model.flops_per_token(seq_len) * tokens_per_second
        rows.append([policy, f"{tokens_per_second:,.0f}", f"{mfu_flops / 1e9:,.1f}"])
    return rows


def main():
    print(f"Machine: {machine()}\n")
    keras.utils.set_random_seed(0)
    model = GPT.from_preset("gpt_mini", vocab_size=8000, dropout=0.0)
    print(f"Greedy generation, gpt_mini, prompt {PROMPT} tokens, {NEW_TOKENS} new tokens:\n")
    print(table(["batch", "cached tokens/s", "rerun tokens/s", "speed-up"], generation_rows(model)))
    print("\nTraining throughput, gpt_mini, batch 16 x 128 tokens, AdamW:\n")
    print(table(["dtype policy", "tokens/s", "achieved GFLOP/s (6N + attention)"], training_rows()))


if __name__ == "__main__":
    main()
