"""`make bench`: runs every benchmark, one after the other on an otherwise idle machine,
and rewrites `benchmarks/RESULTS.md` from what they print.

    .venv/bin/python -m benchmarks.run_all [--only bench_keras_hub ...]
"""

import argparse
import ast
import datetime
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
BENCHMARKS = [
    ("bench_input_pipeline", "Input pipeline: in-graph tokenization and batching"),
    ("bench_generation", "Translator generation: the key/value cache against rerunning"),
    ("bench_gpt", "GPT: generation with and without the cache, training throughput"),
    ("bench_keras_hub", "Against KerasHub: training, bucketing, generation, GPT, memory"),
    ("bench_serving", "Serving: the C API session against the same module in process"),
]


def _summary(name):
    """The first paragraph of a benchmark module's docstring."""
    tree = ast.parse((HERE / f"{name}.py").read_text())
    return (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")


def run(name):
    """`python -m benchmarks.<name>`: its printed report and wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}"],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmarks.{name} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip(), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run these benchmarks only (no rewrite)")
    args = parser.parse_args(argv)
    chosen = [(n, t) for n, t in BENCHMARKS if not args.only or n in args.only]
    today = datetime.date.today().isoformat()
    sections = []
    for name, title in chosen:
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        report, seconds = run(name)
        sections.append(
            f"## {title}\n\n`.venv/bin/python -m benchmarks.{name}` ({today}, "
            f"{seconds / 60:.1f} min). {_summary(name)}\n\n{report}\n"
        )
        print(report, flush=True)
    if args.only:
        return 0
    header = (
        "# Benchmark results\n\n"
        "Written by `make bench` (`python -m benchmarks.run_all`), which runs every "
        "benchmark below one after another; do not edit by hand. Each number is the median "
        "of at least 5 timed repeats after warm-up, and the sides of each comparison run "
        "in the same `make bench` run on the same machine (the `Machine:` lines).\n"
    )
    (HERE / "RESULTS.md").write_text(header + "\n" + "\n".join(sections))
    print(f"wrote {HERE / 'RESULTS.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
