"""Ablation of the translation recipe on real text: each variant is our `tutorial` recipe
(as `bench_real_translation` trains it) with some `TranslateConfig` fields changed, trained
for the same number of epochs and scored with greedy decoding on the test set (and beam 4
with `--beam-4`). A variant that sets `warmup_steps` gets the paper's formula at that
warm-up, whose peak is higher the shorter the warm-up; the recipe's own warm-up keeps the
peak of the paper's 4,000 steps. Token accuracy counts each variant's own tokens, so
compare BLEU across tokenizers. (Speed is `bench_real_translation`'s to measure: variants
may share the machine with other work.)

    .venv/bin/python -m benchmarks.ablate_translation --data ../shared/data/multi30k-en-fr \\
        --epochs 3 --variant 'name={"warmup_steps": 4000}' [--variant ...] [--out DIR]

Results are appended to `DIR/ablation.json` as each variant finishes, so a long run can be
read before it ends; `--report` prints the table of that file.
"""

import argparse
import json
import os
import sys

from benchmarks.bench_real_translation import run_ours


def report(rows):
    from benchmarks.common import machine, table

    print(f"Machine: {machine('float32')}\n")
    header = ["variant", "changes", "epochs", "steps/epoch", "val token acc.", "BLEU", "chrF"]
    header += ["BLEU beam 4", "chrF beam 4"]
    body = [
        [
            r["name"],
            json.dumps(r["changes"]) if r["changes"] else "(the recipe as it is)",
            r["epochs"],
            f"{r['steps_per_epoch']:,}",
            f"{100 * r['val_accuracy']:.1f}%",
            f"{r['beam1']['bleu']:.1f}",
            f"{r['beam1']['chrf']:.1f}",
            *(f"{r['beam4'][k]:.1f}" if "beam4" in r else "" for k in ("bleu", "chrf")),
        ]
        for r in rows
    ]
    print(table(header, body))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a directory of aligned files")
    parser.add_argument("--pair", default="en-fr")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[], metavar='NAME={"field": value}')
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--report", action="store_true", help="print the saved results' table")
    parser.add_argument("--beam-4", action="store_true", help="score beam 4 as well as greedy")
    args = parser.parse_args(argv)
    path = os.path.join(args.out, "ablation.json")
    rows = []
    if os.path.exists(path):
        with open(path) as handle:
            rows = json.load(handle)
    if args.report:
        report(rows)
        return 0
    from pipelines.corpora.local_files import directory_stems

    stems = directory_stems("--data", args.data, tuple(args.pair.split("-")))
    spec = f"lines:{args.pair}:" + ",".join(f"{k}={v}" for k, v in stems.items())
    os.makedirs(args.out, exist_ok=True)
    for variant in args.variant:
        name, _, changes = variant.partition("=")
        changes = json.loads(changes or "{}")
        beams = (1, 4) if args.beam_4 else (1,)
        result = run_ours(spec, args.epochs, args.out, changes, beams=beams, name=name)
        rows.append({"name": name, "changes": changes, "epochs": args.epochs, **result})
        with open(path, "w") as handle:
            json.dump(rows, handle, indent=2, ensure_ascii=False)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
