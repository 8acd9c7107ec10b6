"""The explain page of a `tutorial` translator at 128 source and 128 target tokens: its
size, the time to trace and write it, and the time headless Chromium takes from
navigation to the page's ready flag (median of several opens; `performance.now()` at
ready, read from the page).

Two models: a trained run (`--run`, trained with `--max-tokens 128`) and the same model
with random weights and the run's tokenizers, which never stops early (every greedy step)
and whose flat distributions compress worst.

    .venv/bin/python -m benchmarks.bench_explain_page --run runs/translate/<timestamp> \\
        [--repeats 5] [--out /tmp/explain-bench]
"""

import argparse
import json
import os
import statistics
import time


def long_text(words=400):
    return " ".join(
        f"A man in an orange hat number {i} is starting at something." for i in range(words // 10)
    )


def random_translator(run):
    """The run's tokenizers with a fresh, randomly initialised model of its size."""
    import keras

    from pipelines import translation
    from tf_transformer.generation.translator import Translator
    from tf_transformer.models import Transformer

    trained, _ = translation.load_run(run)
    keras.utils.set_random_seed(0)
    model = Transformer.from_config(trained.model.get_config())
    return Translator(model, trained.source_tokenizer, trained.target_tokenizer)


def measure(name, translator, out, repeats):
    from tests.explain import chromium
    from tf_transformer.explain import trace_translation, write_page

    start = time.perf_counter()
    traced = trace_translation(translator, long_text(), seq_len=translator.max_length - 1)
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
    parser.add_argument("--run", required=True, help="a translation run of the tutorial preset")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="/tmp/explain-bench")
    args = parser.parse_args()
    # as the CLI does before TensorFlow starts: a bfloat16 run under an AVX2 cap on a CPU
    # with bfloat16 runs on TensorFlow's own kernels, not oneDNN's (which abort there)
    from tf_transformer.cpu import bfloat16_without_onednn

    bfloat16_without_onednn()
    os.makedirs(args.out, exist_ok=True)
    from pipelines import translation

    translator, _ = translation.load_run(args.run)
    results = [
        measure("trained", translator, args.out, args.repeats),
        measure("random-init", random_translator(args.run), args.out, args.repeats),
    ]
    with open(os.path.join(args.out, "results.json"), "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
