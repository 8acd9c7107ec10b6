"""In-graph tokenization throughput, and the translation input pipeline against the
training step rate of the tutorial-size model: does input ever starve the model?

    .venv/bin/python -m benchmarks.bench_input_pipeline
"""

import keras
import numpy as np
import tensorflow as tf

from benchmarks.common import machine, median_seconds, table
from pipelines import translation
from pipelines.corpora import load_corpus
from tf_transformer.models import Transformer
from tf_transformer.text import SentencePieceTokenizer, WordPieceTokenizer
from tf_transformer.training import MaskedLoss, transformer_optimizer


def tokenization(corpus_name, texts, tokenizers):
    rows = []
    batches = [tf.constant(texts[i : i + 512]) for i in range(0, len(texts), 512)]
    for name, tokenizer in tokenizers.items():
        tokens = sum(int(tokenizer.tokenize(b).flat_values.shape[0]) for b in batches)
        seconds = median_seconds(lambda t=tokenizer: [t.tokenize(b) for b in batches])
        rows.append(
            [corpus_name, name, f"{len(texts):,}", f"{tokens:,}", f"{tokens / seconds:,.0f}"]
        )
    return rows


def main():
    print(f"Machine: {machine()}\n")
    cldr = load_corpus("cldr:en-pt")
    docs = load_corpus("pydocs")
    rows = []
    for corpus_name, texts in (
        ("cldr:en-pt (pt)", cldr.texts("train", 1)),
        ("pydocs", docs.texts("train")[:3000]),
    ):
        tokenizers = {
            "WordPiece": WordPieceTokenizer.train(texts, 4000),
            "SentencePiece": SentencePieceTokenizer.train(texts, 4000),
        }
        rows += tokenization(corpus_name, texts, tokenizers)
    print("In-graph tokenization (median of 5 after warm-up):\n")
    print(table(["corpus", "tokenizer", "texts", "tokens", "tokens/s"], rows))

    source = SentencePieceTokenizer.train(cldr.texts("train", 0), 4000)
    target = SentencePieceTokenizer.train(cldr.texts("train", 1), 4000)
    batches = translation.make_batches(
        cldr.dataset("train"), source, target, batch_size=64, max_tokens=40
    )
    count = 200
    seconds = median_seconds(lambda: [None for _ in batches.take(count)])
    pipeline_rate = count / seconds

    model = Transformer.from_preset(
        "tutorial",
        input_vocab_size=source.vocab_size,
        target_vocab_size=target.vocab_size,
        max_length=40,
    )
    model.compile(optimizer=transformer_optimizer(128), loss=MaskedLoss(0.1))
    fixed = [next(iter(batches))] * 20
    inputs = tf.data.Dataset.from_generator(
        lambda: iter(fixed), output_signature=batches.element_spec
    )
    model.fit(inputs.take(2), verbose=0)
    step_seconds = median_seconds(lambda: model.fit(inputs, verbose=0)) / len(fixed)
    step_rate = 1 / step_seconds
    print("\nTranslation input pipeline vs the tutorial model's training steps (cldr:en-pt):\n")
    print(
        table(
            ["what", "batches/s", "ratio"],
            [
                [
                    "pipeline alone (tokenize, bucket, pad)",
                    f"{pipeline_rate:,.1f}",
                    f"{pipeline_rate / step_rate:,.1f}x the model",
                ],
                [
                    "tutorial model train steps (same batches, from memory)",
                    f"{step_rate:,.1f}",
                    "1.0x",
                ],
            ],
        )
    )


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    np.random.seed(0)
    main()
