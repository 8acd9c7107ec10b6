"""The explain page of a `tutorial` translator at 128 source and 128 target tokens: its
size, the time to trace and write it, and the time headless Chromium takes from
navigation to the page's ready flag (median of several opens; `performance.now()` at
ready, read from the page).

Two models: a trained run (`--run`, optional) and the same preset with random weights,
which never stops early (128 greedy steps) and whose flat distributions compress worst.

    .venv/bin/python -m benchmarks.bench_explain_page [--run runs/translate/<timestamp>] \\
        [--repeats 5] [--out /tmp/explain-bench]
"""

import argparse
import json
import os
import statistics
import time

LENGTH = 128
VOCAB = 8000


def long_text(words=400):
    return " ".join(
        f"A man in an orange hat number {i} is starting at something." for i in range(words // 10)
    )


def random_translator():
    import keras

    from pipelines.corpora import load_corpus
    from tf_transformer.generation.translator import Translator
    from tf_transformer.models import Transformer
    from tf_transformer.text import SentencePieceTokenizer

    keras.utils.set_random_seed(0)
    corpus = load_corpus("cldr:en-pt")
    source = SentencePieceTokenizer.train(corpus.texts("train", 0), vocab_size=VOCAB)
    target = SentencePieceTokenizer.train(corpus.texts("train", 1), vocab_size=VOCAB)
    model = Transformer.from_preset(
        "tutorial",
        input_vocab_size=source.vocab_size,
        target_vocab_size=target.vocab_size,
        max_length=LENGTH + 1,
    )
    return Translator(model, source, target)


def measure(name, translator, out, repeats):
    from tests.explain import chromium
    from tf_transformer.explain import trace_translation, write_page

    start = time.perf_counter()
    traced = trace_translation(translator, long_text(), seq_len=LENGTH)
    path = write_page(traced, os.path.join(out, f"{name}.html"))
    written = time.perf_counter() - start
    browser = chromium.start()
    try:
        ready = []
        for _ in range(repeats):
            page = chromium.open_page(browser, os.path.abspath(path))
            ready.append(page.execute_script("return explain.readyAt"))
    finally:
        browser.quit()
    result = {
        "model": name,
        "source_tokens": len(traced["tokens"][0]["ids"]),
        "target_steps": len(traced["output"]["chosen"]),
        "target_vocabulary": len(traced["vocabulary"]),
        "megabytes": os.path.getsize(path) / 1e6,
        "trace_and_write_s": written,
        "ready_ms_median": statistics.median(ready),
        "ready_ms": ready,
        "check": traced["check"]["passed"],
    }
    print(json.dumps(result))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", help="a trained translation run (tutorial preset)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="/tmp/explain-bench")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    results = [measure("random-init", random_translator(), args.out, args.repeats)]
    if args.run:
        from pipelines import translation

        translator, _ = translation.load_run(args.run)
        results.append(measure("trained", translator, args.out, args.repeats))
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
