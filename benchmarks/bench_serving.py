"""Serving latency and throughput per exported family: through the TensorFlow C API
session (the loader tensorflow_model_server uses, in a separate process, timed around
`TF_SessionRun`) against calling the same `tf.Module` in process (a `tf.function`).

Latency: p50 and p99 of single-text requests; throughput: texts per second in batches of
32 (median batch time). Models are built at their presets with random weights (speed
does not depend on the weights; generation runs to the length limit, as `[END]` is
rare), tokenizers trained on the embedded corpora.

    .venv/bin/python -m benchmarks.bench_serving
"""

import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

from benchmarks.common import machine, table
from pipelines.corpora import load_corpus
from tf_transformer.generation.text_generator import TextGenerator
from tf_transformer.generation.translator import Translator
from tf_transformer.models import GPT, BertClassifier, BertMaskedLM, Transformer
from tf_transformer.serving import bert as bert_serving
from tf_transformer.serving.conformance import run_capi
from tf_transformer.serving.export import export_generator, export_translator
from tf_transformer.text import SentencePieceTokenizer, WordPieceTokenizer

SINGLE_REPEATS = 50
BATCH, BATCH_REPEATS = 32, 7


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def milliseconds(times):
    """p50 / p99 of `times` (seconds) in milliseconds."""
    return f"{1000 * percentile(times, 50):.1f} / {1000 * percentile(times, 99):.1f}"


def families(root):
    """(name, export path, input name, in-process function of a string tensor)."""
    pairs = load_corpus("cldr:en-pt", size=5000)
    source = SentencePieceTokenizer.train(pairs.texts("train", 0), vocab_size=2000)
    target = SentencePieceTokenizer.train(pairs.texts("train", 1), vocab_size=2000)
    model = Transformer.from_preset(
        "tutorial", input_vocab_size=source.vocab_size, target_vocab_size=target.vocab_size
    )
    model.build(((None, None), (None, None)))
    translator = Translator(model, source, target)
    yield (
        "translator (tutorial, greedy)",
        export_translator(translator, f"{root}/translator"),
        "text",
        lambda t: translator.translate(t),
    )

    docs = load_corpus("pydocs").texts("train")
    pieces = SentencePieceTokenizer.train(docs, vocab_size=8000)
    gpt = GPT.from_preset("gpt_mini", vocab_size=pieces.vocab_size)
    generator = TextGenerator(gpt, pieces, max_new_tokens=32, temperature=0.0)
    yield (
        "gpt (gpt_mini, 32 new tokens)",
        export_generator(generator, f"{root}/gpt"),
        "prompt",
        lambda t: generator.complete(t),
    )

    words = WordPieceTokenizer.train(docs, vocab_size=8000)
    langid = load_corpus("cldr-langid")
    classifier = BertClassifier.from_preset(
        "bert_small", vocab_size=words.vocab_size, num_classes=12, labels=list(langid.labels)
    )
    predictor = bert_serving.TextClassifier(classifier, words, seq_len=128)
    yield (
        "classifier (bert_small)",
        bert_serving.export_predictor(predictor, f"{root}/classifier"),
        "text",
        predictor.serve,
    )
    mlm = BertMaskedLM.from_preset("bert_small", vocab_size=words.vocab_size)
    fill = bert_serving.FillMask(mlm, words, seq_len=128)
    yield (
        "fill_mask (bert_small)",
        bert_serving.export_predictor(fill, f"{root}/fill_mask"),
        "text",
        fill.serve,
    )


def texts_for(name, count):
    base = "Return a [MASK] of the list." if name.startswith("fill") else "Saturday, June 9, 1984"
    return [base] * count


def in_process_times(fn, texts, repeats):
    compiled = tf.function(fn, input_signature=[tf.TensorSpec([None], tf.string)])
    batch = tf.constant(texts, tf.string)
    compiled(batch)  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = compiled(batch)
        tf.nest.map_structure(lambda t: t.numpy(), outputs)
        times.append(time.perf_counter() - start)
    return times


def capi_times(path, signature, input_name, texts, repeats):
    # the first run of a request pays for the graph's warm-up: dropped, like in process
    answer = run_capi(path, [(signature, {input_name: texts})], repeat=repeats + 1)
    return answer["seconds"][0][1:], answer["peak_rss_mb"]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for name, path, input_name, fn in families(root):
            print(f"timing {name}", file=sys.stderr)
            one, batch = texts_for(name, 1), texts_for(name, BATCH)
            capi_one, peak = capi_times(path, "serving_default", input_name, one, SINGLE_REPEATS)
            capi_batch, _ = capi_times(path, "serving_default", input_name, batch, BATCH_REPEATS)
            local_one = in_process_times(fn, one, SINGLE_REPEATS)
            local_batch = in_process_times(fn, batch, BATCH_REPEATS)
            capi_rate = BATCH / statistics.median(capi_batch)
            local_rate = BATCH / statistics.median(local_batch)
            rows.append(
                [
                    name,
                    milliseconds(capi_one),
                    milliseconds(local_one),
                    f"{percentile(capi_one, 50) / percentile(local_one, 50):.2f}",
                    f"{capi_rate:,.1f}",
                    f"{local_rate:,.1f}",
                    f"{capi_rate / local_rate:.2f}",
                    f"{peak:,.0f}",
                ]
            )
    header = [
        "export",
        "C API p50 / p99 ms (batch 1)",
        "in process p50 / p99 ms",
        "latency ratio",
        "C API texts/s (batch 32)",
        "in process texts/s",
        "throughput ratio",
        "loader peak MB",
    ]
    print(f"Machine: {machine()}\n")
    print(table(header, rows))


if __name__ == "__main__":
    main()
