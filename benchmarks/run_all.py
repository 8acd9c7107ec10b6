"""`make bench`: runs every benchmark, one after the other on an otherwise idle machine,
and rewrites `benchmarks/RESULTS.md` from what they print.

    .venv/bin/python -m benchmarks.run_all [--only bench_keras_hub ...] [--update]

`--only` runs some benchmarks and prints them; with `--update` their sections of
RESULTS.md are replaced (or added) and the others kept. The real-text benchmark needs
the corpus directory (`--data`, default `../shared/data/multi30k-en-fr`) and is skipped
without it; the ablation is reported from a saved run (`--ablation DIR`) only.
"""

import argparse
import ast
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
DATA = "../shared/data/multi30k-en-fr"
BENCHMARKS = [
    ("bench_input_pipeline", "Input pipeline: in-graph tokenization and batching"),
    ("bench_corpus_memory", "Corpora larger than memory: 2,000,000 pairs streamed or read whole"),
    ("bench_generation", "Translator generation: the key/value cache against rerunning"),
    ("bench_gpt", "GPT: generation with and without the cache, training throughput"),
    ("bench_keras_hub", "Against KerasHub: training, bucketing, generation, GPT, memory"),
    ("bench_serving", "Serving: the C API session against the same module in process"),
    ("bench_backup", "Backups: what resuming mid-epoch costs a training step"),
    ("bench_real_translation", "Real text: Multi30K en-fr against a KerasHub baseline"),
    ("ablate_translation", "Real text: what each change to the recipe did (ablation)"),
    ("bench_real_gpt", "Real text: tiny Shakespeare, character level, against KerasHub"),
    ("bench_bert_step", "BERT's pretraining step against KerasHub's, and the CPU it uses"),
    ("bench_loss", "The cross-entropy: ours against Keras'"),
    (
        "bench_real_bert",
        "Real text: SST-2 and IMDb, pretrained against random weights and KerasHub",
    ),
]
# the real data the GPT and BERT benchmarks read, under `--shared` (skipped without it)
SHARED_DATA = {"bench_real_gpt": "tinyshakespeare/input.txt", "bench_real_bert": "."}


def _summary(name):
    """The first paragraph of a benchmark module's docstring."""
    tree = ast.parse((HERE / f"{name}.py").read_text())
    return (ast.get_docstring(tree) or "").split("\n\n")[0].replace("\n", " ")


def arguments(name, data, real_results=None, ablation=None, shared="../shared/data"):
    """The command-line arguments a benchmark needs (None: it cannot run here). With
    `real_results`, the real-text benchmark reports a saved run's `results.json`; the
    ablation (an hour or more of training) is only ever reported from its saved
    `ablation.json`, in the directory `ablation`."""
    if name == "ablate_translation":
        if not ablation or not os.path.isfile(os.path.join(ablation, "ablation.json")):
            return None
        return ["--data", data, "--out", ablation, "--report"]
    if name in SHARED_DATA:
        path = os.path.join(shared, SHARED_DATA[name])
        return ["--data", path] if os.path.exists(path) else None
    if name != "bench_real_translation":
        return []
    if not os.path.isdir(data):
        return None
    if real_results:
        return ["--data", data, "--report", real_results]
    return ["--data", data, "--epochs", "10"]


def run(name, args=()):
    """`python -m benchmarks.<name>`: its printed report and wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", *args],
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
    parser.add_argument("--update", action="store_true", help="with --only: update RESULTS.md")
    parser.add_argument("--data", default=DATA, help="the real-text corpus directory")
    parser.add_argument(
        "--shared", default="../shared/data", help="the real data of the GPT and BERT benchmarks"
    )
    parser.add_argument(
        "--real-results",
        metavar="RESULTS_JSON",
        help="report this saved real-text run instead of training again (it takes hours)",
    )
    parser.add_argument(
        "--ablation", metavar="DIR", help="report the saved ablation in DIR (ablation.json)"
    )
    args = parser.parse_args(argv)
    chosen = [(n, t) for n, t in BENCHMARKS if not args.only or n in args.only]
    today = datetime.date.today().isoformat()
    sections = {}
    for name, title in chosen:
        extra = arguments(name, args.data, args.real_results, args.ablation, args.shared)
        if extra is None:
            missing = "--ablation DIR" if name == "ablate_translation" else args.data
            if name in SHARED_DATA:
                missing = os.path.join(args.shared, SHARED_DATA[name])
            print(f"skipping benchmarks.{name}: no {missing}", file=sys.stderr)
            continue
        print(f"running benchmarks.{name} ...", file=sys.stderr, flush=True)
        report, seconds = run(name, extra)
        shown = extra
        if args.real_results and name == "bench_real_translation":
            with open(args.real_results) as handle:
                shown = ["--data", args.data, *json.load(handle).get("command", [])]
        command = " ".join([f"`.venv/bin/python -m benchmarks.{name}", *shown]) + "`"
        when = f"{today}, {seconds / 60:.1f} min"
        if args.real_results and name == "bench_real_translation":
            when = f"reported from the saved run {args.real_results}, trained {today}"
        if name == "ablate_translation":
            shown = ["--data", args.data, "--epochs 3 --variant NAME='{...}' ..."]
            when = f"reported from {args.ablation}/ablation.json, trained {today}"
        sections[title] = f"## {title}\n\n{command} ({when}). {_summary(name)}\n\n{report}\n"
        print(report, flush=True)
    if args.only and not args.update:
        return 0
    path = HERE / "RESULTS.md"
    header = (
        "# Benchmark results\n\n"
        "The sections named after a benchmark of `make bench` (`python -m "
        "benchmarks.run_all`) are rewritten by it; the others record one-off measurements "
        "with the commands that reproduce them, and `make bench` keeps them. Each timing is "
        "the median of at least 5 timed repeats after warm-up (real-text training runs "
        "once), and the sides of each comparison run in the same run on the same machine "
        "(the `Machine:` lines name it).\n"
    )
    path.write_text(header + "\n" + "\n".join(merged_sections(path, sections)))
    print(f"wrote {path}", file=sys.stderr)
    return 0


def merged_sections(path, sections):
    """RESULTS.md's sections after a run: every section of `path` in its place, those
    `sections` (title -> text) rewrote replaced, new ones where `BENCHMARKS` puts them
    (after the section of the benchmark before them), none dropped."""
    merged = {**(_sections(path.read_text()) if path.exists() else {})}
    order = list(merged)
    for index, (_, title) in enumerate(BENCHMARKS):
        if title in sections and title not in merged:
            before = [t for _, t in BENCHMARKS[:index] if t in order]
            order.insert(order.index(before[-1]) + 1 if before else len(order), title)
    merged.update(sections)
    return [merged[title] for title in order]


def _sections(text):
    """RESULTS.md's sections by title (`## title` up to the next `## `)."""
    found = {}
    for block in text.split("\n## ")[1:]:
        title = block.split("\n", 1)[0].strip()
        found[title] = "## " + block.rstrip("\n") + "\n"
    return found


if __name__ == "__main__":
    sys.exit(main())
