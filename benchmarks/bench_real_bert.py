"""Real text for BERT: SST-2 sentiment (dev accuracy) and IMDb reviews (held-out accuracy),
pretrained against random weights, KerasHub and a bag of words.

1. `pretrain`: `bert pretrain` (masked LM, packed windows, whole words) on unlabelled
   movie-review text: IMDb's 50,000 unlabelled reviews and the SST-2 training phrases
   without their labels (`PRETRAIN`), for at most `--minutes`.
2. `ours`: `bert finetune --from` that run on each task with 2,000 labelled examples and
   with all of them; each fine-tuning also runs from random weights (the same encoder
   size, tokenizer, schedule and steps: the recipe's `compare_scratch`). With `--curve`,
   SST-2's learning curve (500 ... 5,000 labels) too.
3. `hub`: KerasHub's `BertBackbone` of the same size with a `MaskedLMHead`, pretrained on
   the same packed, masked batches for the same wall-clock time, then fine-tuned the same
   way (pooled output, dropout, dense; the same optimizer, schedule, batches and epochs).
4. `bow`: the keras.io guide's bag of words (`TextVectorization` multi-hot over the 20,000
   most frequent words, bigrams too for IMDb; one dense layer).

IMDb's test reviews are not in `../shared/data`: its `train.tsv` is split by hash, 80%
training (20,000 reviews), 10% validation and 10% held-out test (about 2,500 each).

Writes `results.json` into `--out` and prints the tables for RESULTS.md.

    .venv/bin/python -m benchmarks.bench_real_bert --data ../shared/data \\
        [--only pretrain,ours,bow,hub] [--tasks sst2,imdb] [--minutes 55] [--curve] \\
        [--pretrained RUN_DIR] [--out DIR] [--report]
"""

import argparse
import os
import sys
import time

from benchmarks.common import saved_results

LIMITS = (2000, None)  # labelled examples: 2,000, then all
# bert_tiny (2 layers, width 128): about 7,000 steps of 64 windows of 128 tokens an hour
# on a 2-core CPU.
PRETRAIN = dict(
    preset="bert_tiny",
    seq_len=128,
    batch_size=64,
    epochs=3,
    mask_rate=0.15,
    learning_rate=1e-3,
    warmup_steps=500,
    vocab_size=8000,
    vocab_sample=20000,
)
FINETUNE = dict(batch_size=32, learning_rate=2e-4, warmup_fraction=0.1, weight_decay=0.01)
TASKS = {
    "sst2": dict(
        spec="tsv:train={data}/sst2/train.tsv,validation={data}/sst2/dev.tsv,test=0,label=label",
        seq_len=64,
        truncate="head",
        epochs={2000: 10, None: 2},
        bigrams=False,
        split="validation",  # SST-2's dev set
    ),
    "imdb": dict(
        spec="tsv:{data}/imdb/train.tsv,label=label,text=text,validation=0.1,test=0.1",
        seq_len=256,
        truncate="head+tail",
        epochs={2000: 10, None: 3},
        bigrams=True,
        split="test",  # the held-out tenth
    ),
}
CURVE = (500, 1000, 2000, 5000)


def pretrain_source(data):
    return f"{data}/imdb/unsup.txt+tsv:{data}/sst2/train.tsv,label=label"


def task_spec(data, task):
    return TASKS[task]["spec"].format(data=data)


def run_bow(data, task):
    """Multi-hot bag of words + one dense layer (keras.io, "Pretraining a Transformer from
    scratch with KerasHub"), on 2,000 and on all labelled examples; bigrams for IMDb."""
    import keras
    import tensorflow as tf

    from pipelines.corpora import load_corpus, stable_subset
    from tf_transformer.text.bert_inputs import strip_markup

    settings = TASKS[task]
    corpus = load_corpus(task_spec(data, task))

    def dataset(examples, shuffle=False):
        texts = strip_markup(tf.constant([t for t, _ in examples]))
        labels = tf.constant([int(label) for _, label in examples], tf.float32)
        data = tf.data.Dataset.from_tensor_slices((texts[:, None], labels))
        return (data.shuffle(len(examples), seed=0) if shuffle else data).batch(32)

    results = {}
    for limit in LIMITS:
        keras.utils.set_random_seed(0)
        train = stable_subset(corpus.train, limit, key=lambda ex: ex[0])
        vectorize = keras.layers.TextVectorization(
            max_tokens=20000, output_mode="multi_hot", ngrams=2 if settings["bigrams"] else None
        )
        vectorize.adapt(strip_markup(tf.constant([t for t, _ in train])))
        model = keras.Sequential([keras.Input((1,), dtype="string"), vectorize])
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        epochs = 5 if limit is None else 20
        model.fit(dataset(train, shuffle=True), epochs=epochs, verbose=0)
        accuracy = model.evaluate(dataset(corpus.split(settings["split"])), verbose=0)[1]
        results[str(limit or "all")] = {"accuracy": float(accuracy)}
        print(f"{task} bag of words, {limit or 'all'} examples: accuracy {100 * accuracy:.1f}%")
    return results


def run_pretrain(data, out_dir, minutes):
    return pretrain_run(pretrain_source(data), out_dir, minutes, PRETRAIN)


def pretrain_run(source, out_dir, minutes, settings):
    """`bert pretrain` on `source` with `settings` for at most `minutes`, into
    `out_dir/pretrain`; its `pretrain_result`."""
    from pipelines import masked_lm

    start = time.perf_counter()
    config = masked_lm.PretrainConfig(source=source, time_budget=60 * minutes, **settings)
    run_dir = masked_lm.pretrain(config, os.path.join(out_dir, "pretrain"), overwrite=True)
    return pretrain_result(run_dir, (time.perf_counter() - start) / 60)


def pretrain_result(run_dir, minutes=None):
    """What the report needs of a pretraining run; `minutes` default: from its vocabulary's
    file to its final model's (counting windows, training, validation)."""
    from pipelines.runs import flat_config, read_json

    if minutes is None:
        vocabulary = os.path.getmtime(os.path.join(run_dir, "tokenizer"))
        minutes = (os.path.getmtime(os.path.join(run_dir, "model.keras")) - vocabulary) / 60

    config = read_json(run_dir, "config.json")
    history = read_json(run_dir, "history.json")
    metrics = read_json(run_dir, "metrics.json")
    metrics.pop("samples", None)
    return {
        "run": run_dir,
        "metrics": metrics,
        "minutes": minutes,
        "tokens_per_second": history.get("tokens_per_second"),
        "sources": config.get("text", {}).get("sources"),
        "precision": config["precision"]["policy"],
        "settings": {k: flat_config(config)[k] for k in PRETRAIN},
        "schedule": config["schedule"],
    }


def run_ours(data, out_dir, pretrained, task, curve=False, limits=LIMITS, result=None):
    from pipelines import finetuning
    from pipelines.runs import read_json

    settings = TASKS[task]
    result = result if result is not None else {}
    for limit in limits:
        start = time.perf_counter()
        config = finetuning.FinetuneConfig(
            task="classify",
            source=task_spec(data, task),
            from_run=pretrained,
            epochs=settings["epochs"][limit],
            train_limit=limit,
            seq_len=settings["seq_len"],
            truncate=settings["truncate"],
            learning_curve=list(CURVE) if curve and limit is None else None,
            **FINETUNE,
        )
        run_dir = finetuning.finetune(
            config, os.path.join(out_dir, task, f"finetune-{limit or 'all'}"), overwrite=True
        )
        metrics = read_json(run_dir, "metrics.json")
        curve_points = metrics.pop("learning_curve", None)
        result[str(limit or "all")] = {
            start_from: _scores(report, settings["split"]) for start_from, report in metrics.items()
        }
        result[str(limit or "all")]["minutes"] = (time.perf_counter() - start) / 60
        result[str(limit or "all")]["run"] = run_dir
        if curve_points:
            result["curve"] = curve_points
    return result


def _scores(report, split):
    chosen = report if report.get("split") == split else report.get(split, report)
    return {"accuracy": chosen["accuracy"], "macro_f1": chosen["macro_f1"], "split": split}


def run_hub(data, ours_pretrain, tasks, steps=None):
    """KerasHub's BertBackbone at our encoder's size, on our pretraining run's tokenizer
    and packed, masked batches, for the same wall-clock time (or `steps` steps: the
    steps it makes in our time, when the machine is shared); then fine-tuned as ours."""
    import keras

    from benchmarks.hub_bert import hub_finetune_classifier, hub_pretrain
    from pipelines.corpora import load_corpus

    backbone, result, tokenizer = hub_pretrain(pretrain_source(data), ours_pretrain, steps)
    pretrained_weights = backbone.get_weights()
    for task in tasks:
        corpus = load_corpus(task_spec(data, task))
        result[task] = hub_finetune_classifier(
            task, corpus, TASKS[task], FINETUNE, LIMITS, backbone, pretrained_weights, tokenizer
        )
    keras.config.set_dtype_policy("float32")
    return result


NAMES = {"sst2": "SST-2 dev accuracy (%), 872 sentences", "imdb": "IMDb held-out accuracy (%)"}


def report(results):
    from benchmarks.common import machine, table

    policy = results.get("pretrain", {}).get("precision", "the recipe's auto choice")
    print(f"Machine: {machine(policy)}\n")
    pre = results.get("pretrain")
    if pre:
        steps = pre["schedule"]["total_steps"]
        speed = pre.get("tokens_per_second") or []
        shown = f", {speed[-1]:,.0f} tokens/s in its last epoch" if speed else ""
        print(
            f"Pretraining (ours): {pre['minutes'] or 0:.0f} min (schedule of {steps:,} steps)"
            f"{shown}; validation masked accuracy "
            f"{100 * pre['metrics']['validation_masked_accuracy']:.1f}%\n"
        )
    hub = results.get("hub", {})
    if hub:
        masked = hub["pretrain"]["validation_masked_accuracy"]
        print(
            f"Pretraining (KerasHub, same batches and time): {hub['minutes']:.0f} min; "
            f"validation masked accuracy {100 * masked:.1f}%\n"
        )
    for task in TASKS:
        ours = results.get("ours", {}).get(task)
        if not ours:
            continue
        rows = []
        for limit in ("2000", "all"):
            row = [f"{int(limit):,}" if limit != "all" else "all"]
            for start in ("scratch", "pretrained"):
                figure = ours.get(limit, {}).get(start, {}).get("accuracy")
                row.append(f"{100 * figure:.1f}" if figure is not None else "")
            hub_figure = hub.get(task, {}).get(limit, {}).get("pretrained", {}).get("accuracy")
            bow = results.get("bow", {}).get(task, {}).get(limit, {}).get("accuracy")
            row += [f"{100 * v:.1f}" if v is not None else "" for v in (hub_figure, bow)]
            rows.append(row)
        header = [
            "labelled examples",
            "ours, random init",
            "ours, pretrained",
            "KerasHub BertBackbone, pretrained",
            "bag of words",
        ]
        print(f"{NAMES[task]}:\n")
        print(table(header, rows))
        if "curve" in ours:
            for start, points in ours["curve"]["points"].items():
                shown = ", ".join(f"{int(n):,}: {100 * a:.1f}" for n, a in points.items())
                print(f"\nlearning curve from {start} (validation accuracy %): {shown}")
        print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--only", default="pretrain,ours,bow,hub", help="comma-separated parts")
    parser.add_argument("--tasks", default="sst2,imdb", help="comma-separated: sst2, imdb")
    parser.add_argument("--minutes", type=float, default=55, help="pretraining budget")
    parser.add_argument("--pretrained", help="an existing pretraining run to use")
    parser.add_argument(
        "--hub-steps",
        type=int,
        help="KerasHub's pretraining steps (default: as many as fit in our pretraining's time)",
    )
    parser.add_argument("--curve", action="store_true", help="SST-2's learning curve too")
    parser.add_argument(
        "--limits", default="2000,all", help="labelled examples to fine-tune on (default 2000,all)"
    )
    parser.add_argument("--out", default="runs/bench_real_bert")
    parser.add_argument("--report", action="store_true", help="print the saved results only")
    args = parser.parse_args(argv)
    results, save = saved_results(args.out)
    tasks = [task for task in args.tasks.split(",") if task]
    if not args.report:
        if not os.path.isfile(os.path.join(args.data, "imdb", "unsup.txt")):
            print(f"{args.data}: no imdb/unsup.txt (see ../shared/data/README.md)", file=sys.stderr)
            return 2
        for part in args.only.split(","):
            if part == "pretrain":
                if args.pretrained:
                    results["pretrain"] = pretrain_result(args.pretrained)
                else:
                    results["pretrain"] = run_pretrain(args.data, args.out, args.minutes)
            elif part == "ours":
                limits = [None if n == "all" else int(n) for n in args.limits.split(",")]
                ours = results.setdefault("ours", {})
                for task in tasks:
                    ours[task] = run_ours(
                        args.data,
                        args.out,
                        results["pretrain"]["run"],
                        task,
                        curve=args.curve and task == "sst2",
                        limits=limits,
                        result=ours.get(task),
                    )
                    save()
            elif part == "bow":
                for task in tasks:
                    results.setdefault("bow", {})[task] = run_bow(args.data, task)
            elif part == "hub":
                results["hub"] = run_hub(args.data, results["pretrain"], tasks, args.hub_steps)
            save()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
