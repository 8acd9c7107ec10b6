"""Corpora larger than memory: the peak resident memory and the input pipeline's pairs/s
of a generated 2,000,000-pair file, streamed from disk (`tf.data` line datasets, the
default for `lines:` and `tsv:`) against read whole into Python lists (`stream=False`).

Each side runs in its own process, one after the other: load the corpus, learn the
source and target vocabularies from a 20,000-text sample (`--vocab-sample`), then pass
the training split through `make_batches` (tokenize, shuffle, bucket, pad) several times.
Memory is the process's peak resident set (`ru_maxrss`), pairs/s the median of the passes.

    .venv/bin/python -m benchmarks.bench_corpus_memory [--pairs 2000000] [--passes 3]
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time

VOCAB, SAMPLE, MAX_TOKENS = 4000, 20_000, 64


def generate(stem, pairs, seed=0):
    """Aligned `stem.en` / `stem.fr` files of random sentences over a made-up vocabulary."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(20_000)]
    with open(f"{stem}.en", "w") as en, open(f"{stem}.fr", "w") as fr:
        for _ in range(pairs):
            length = rng.randint(4, 24)
            en.write(" ".join(rng.choices(words, k=length)).capitalize() + ".\n")
            fr.write(" ".join(rng.choices(words, k=length + rng.randint(0, 3))) + " .\n")


def measure(spec, stream, passes):
    """In this process: load, learn the vocabularies, time `passes` passes of the pipeline."""
    import keras

    from pipelines.corpora import load_corpus
    from pipelines.translation import make_batches
    from tf_transformer.text import SentencePieceTokenizer

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    corpus = load_corpus(spec, stream=stream)
    tokenizers = [
        SentencePieceTokenizer.train(corpus.sample_texts("train", side, SAMPLE), VOCAB)
        for side in (0, 1)
    ]
    ready = time.perf_counter() - start
    batches = make_batches(corpus.dataset("train"), *tokenizers, max_tokens=MAX_TOKENS, seed=0)
    rates, pairs = [], 0
    for _ in range(passes):
        start, pairs = time.perf_counter(), 0
        for (source, _), _ in batches:
            pairs += int(source.shape[0])
        rates.append(pairs / (time.perf_counter() - start))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"pairs": pairs, "ready_seconds": ready, "pairs_per_second": rates, "peak_mb": peak_mb}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2_000_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--side", choices=["streamed", "in-memory"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:  # the child process of one side
        result = measure(args.spec, args.side == "streamed", args.passes)
        print(json.dumps(result))
        return 0

    from benchmarks.common import machine, table

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        stem = os.path.join(directory, "corpus")
        generate(stem, args.pairs)
        size_mb = sum(os.path.getsize(f"{stem}.{lang}") for lang in ("en", "fr")) / 2**20
        spec = f"lines:en-fr:{stem}"
        for side in ("streamed", "in-memory"):
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.bench_corpus_memory", "--side", side]
                + ["--spec", spec, "--passes", str(args.passes)],
                capture_output=True,
                text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
            if child.returncode != 0:
                raise SystemExit(f"the {side} side failed:\n{child.stderr[-3000:]}")
            result = json.loads(child.stdout.strip().splitlines()[-1])
            rows.append(
                [
                    side,
                    f"{result['peak_mb']:,.0f}",
                    f"{result['ready_seconds']:.0f}",
                    f"{statistics.median(result['pairs_per_second']):,.0f}",
                    f"{result['pairs']:,}",
                ]
            )
    print(f"Machine: {machine('float32')}\n")
    print(
        f"`lines:en-fr:` a generated corpus of {args.pairs:,} pairs ({size_mb:,.0f} MB on disk, "
        f"split 90/5/5 by hash); vocabularies of {VOCAB:,} learned from {SAMPLE:,} texts a "
        f"side; median of {args.passes} passes through `make_batches` (max {MAX_TOKENS} "
        "tokens, 64 pairs a bucketed batch).\n"
    )
    header = ["corpus read", "peak RSS MB", "load + vocab s", "pairs/s", "training pairs"]
    print(table(header, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
