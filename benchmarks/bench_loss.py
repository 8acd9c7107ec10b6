"""The cross-entropy of `masked_loss` against Keras' on the shapes the recipes train.

One forward and backward pass of the mean cross-entropy of integer labels under float32
logits `(rows, vocabulary)`: Keras' `sparse_categorical_crossentropy(from_logits=True)`
(TensorFlow's fused `SparseSoftmaxCrossEntropyWithLogits`) against ours
(`tf_transformer.training.losses.sparse_cross_entropy`: the log-sum-exp, and the gradient
written out). Each side a `tf.function`, 5 calls a timed repeat, repeats interleaved,
median of 7 (`benchmarks.common`).

    .venv/bin/python -m benchmarks.bench_loss
"""

import sys

# (what, rows, vocabulary): the rows of logits one training step scores
SHAPES = [
    ("character GPT (batch 64 x 256, 65 characters)", 64 * 256, 65),
    ("translator (batch 64 x 30 target tokens, 8,000 pieces)", 64 * 30, 8000),
    ("BERT masked LM (64 windows x 25 masked, 8,000 pieces)", 64 * 25, 8000),
    ("GPT-2 vocabulary (batch 8 x 256, 50,257 pieces)", 8 * 256, 50257),
]
CALLS = 5


def step(loss, rows, vocab):
    """A traced forward and backward pass of `loss` at `(rows, vocab)`, run once."""
    import numpy as np
    import tensorflow as tf

    logits = tf.Variable(tf.random.normal([rows, vocab], seed=0))
    labels = tf.constant(np.random.default_rng(0).integers(1, vocab, rows), tf.int32)

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(labels, logits))
        return tape.gradient(value, logits)

    gradient()

    def run():
        for _ in range(CALLS):
            out = gradient()
        out.numpy()

    return run


def main():
    import keras

    from benchmarks.common import machine, median_seconds_interleaved
    from tf_transformer.training.losses import sparse_cross_entropy

    def keras_loss(labels, logits):
        return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)

    print(f"Machine: {machine('float32')}\n")
    print("| logits | Keras (ms) | ours (ms) | ours faster by |")
    print("|---|---|---|---|")
    for what, rows, vocab in SHAPES:
        runs = [step(keras_loss, rows, vocab), step(sparse_cross_entropy, rows, vocab)]
        theirs, ours = (s / CALLS for s in median_seconds_interleaved(runs, repeats=7))
        print(f"| {what} | {1000 * theirs:.1f} | {1000 * ours:.1f} | {theirs / ours:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
