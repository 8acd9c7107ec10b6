"""Real text for BERT: SST-2 sentiment (dev accuracy), pretrained against random weights.

1. `ours`: `bert pretrain` (masked LM) on the SST-2 training sentences without their
   labels, then `bert finetune --from` it, with 2,000 labelled examples and with all
   67,349; each fine-tuning also runs from random weights (the same encoder size,
   tokenizer, schedule and steps: the recipe's `compare_scratch`).
2. `hub`: KerasHub's `BertBackbone` of the same size, pretrained with a `MaskedLMHead` on
   the same masked batches for the same steps, then fine-tuned the same way (pooled
   output, dropout, dense; the same optimizer, schedule, batches and epochs).
3. `bow`: the keras.io guide's bag-of-words baseline: `TextVectorization` multi-hot over
   the 20,000 most frequent words, one dense layer.

Writes `results.json` into `--out` and prints the tables for RESULTS.md.

    .venv/bin/python -m benchmarks.bench_real_bert --data ../shared/data/sst2 \\
        [--only bow,ours,hub] [--out DIR] [--report]
"""

import argparse
import json
import os
import sys
import time

from benchmarks.common import saved_results

LIMITS = (2000, None)  # labelled examples: 2,000, then all
# bert_tiny (2 layers, width 128): on a 2-core CPU it gets through the masked LM's early
# plateau (a unigram guess, loss ~6.8, masked accuracy ~3%), where bert_small was still
# stuck after 950 steps, and about 9,500 steps fit in a quarter of an hour.
PRETRAIN = dict(
    preset="bert_tiny",
    seq_len=64,
    batch_size=64,
    epochs=8,
    mask_rate=0.15,
    learning_rate=1e-3,
    warmup_steps=300,
    vocab_size=8000,
)
FINETUNE = dict(batch_size=32, learning_rate=2e-4, warmup_fraction=0.1, weight_decay=0.01)
EPOCHS = {2000: 10, None: 2}  # fine-tuning epochs by limit: about 630 and 4,200 steps


def specs(data):
    train, dev = os.path.join(data, "train.tsv"), os.path.join(data, "dev.tsv")
    return {
        "pretrain": f"tsv:{train},label=label",  # its texts; 5% held out for perplexity
        "labelled": f"tsv:train={train},validation={dev},test=0,label=label",
    }


def run_bow(data):
    """Multi-hot bag of words + one dense layer (keras.io, "Pretraining a Transformer from
    scratch with KerasHub"), on 2,000 and on all labelled examples."""
    import keras
    import tensorflow as tf

    from pipelines.corpora import load_corpus, stable_subset

    corpus = load_corpus(specs(data)["labelled"])

    def dataset(examples, shuffle=False):
        texts = tf.constant([t for t, _ in examples])
        labels = tf.constant([int(label) for _, label in examples], tf.float32)
        data = tf.data.Dataset.from_tensor_slices((texts, labels))
        return (data.shuffle(len(examples), seed=0) if shuffle else data).batch(32)

    results = {}
    for limit in LIMITS:
        keras.utils.set_random_seed(0)
        train = stable_subset(corpus.train, limit, key=lambda ex: ex[0])
        vectorize = keras.layers.TextVectorization(max_tokens=20000, output_mode="multi_hot")
        vectorize.adapt(tf.constant([t for t, _ in train]))
        model = keras.Sequential([keras.Input((1,), dtype="string"), vectorize])
        model.add(keras.layers.Dense(1, activation="sigmoid"))
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        epochs = 5 if limit is None else 20
        model.fit(dataset(train, shuffle=True).map(_column), epochs=epochs, verbose=0)
        accuracy = model.evaluate(dataset(corpus.validation).map(_column), verbose=0)[1]
        results[str(limit or "all")] = {"accuracy": float(accuracy)}
        print(f"bag of words, {limit or 'all'} examples: dev accuracy {100 * accuracy:.1f}%")
    return results


def _column(texts, labels):
    return texts[:, None], labels


def run_ours(data, out_dir, pretrain=PRETRAIN, name="ours", finetune=None):
    from pipelines import finetuning, masked_lm
    from pipelines.runs import read_json

    start = time.perf_counter()
    config = masked_lm.PretrainConfig(source=specs(data)["pretrain"], **pretrain)
    pretrained = masked_lm.pretrain(config, os.path.join(out_dir, name, "pretrain"), overwrite=True)
    result = {
        "pretrain": read_json(pretrained, "metrics.json"),
        "pretrain_minutes": (time.perf_counter() - start) / 60,
        "settings": pretrain,
        "pretrain_run": pretrained,
        "precision": read_json(pretrained, "config.json")["precision"]["policy"],
    }
    result["pretrain"].pop("samples", None)
    for limit in LIMITS:
        start = time.perf_counter()
        config = finetuning.FinetuneConfig(
            task="classify",
            source=specs(data)["labelled"],
            from_run=pretrained,
            epochs=EPOCHS[limit],
            train_limit=limit,
            **{**FINETUNE, **(finetune or {})},
        )
        run_dir = finetuning.finetune(
            config, os.path.join(out_dir, name, f"finetune-{limit or 'all'}"), overwrite=True
        )
        metrics = read_json(run_dir, "metrics.json")
        result[str(limit or "all")] = {
            start_from: {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
            for start_from, report in metrics.items()
        }
        result[str(limit or "all")]["minutes"] = (time.perf_counter() - start) / 60
    return result


def run_hub(data, ours):
    """KerasHub's BertBackbone at our encoder's size, on our pretraining run's tokenizer,
    masked batches and steps, then fine-tuned as ours."""
    import keras
    import keras_hub
    import tensorflow as tf

    from pipelines import masked_lm, masked_lm_batches
    from pipelines.corpora import load_corpus, stable_subset
    from pipelines.runs import read_json
    from tf_transformer.models.bert import PRESETS
    from tf_transformer.text import load_tokenizer
    from tf_transformer.training import masked_accuracy, masked_loss

    run_dir = ours["pretrain_run"]
    saved = read_json(run_dir, "config.json")
    schedule, policy = saved["schedule"], saved["precision"]["policy"]
    tokenizer = load_tokenizer(os.path.join(run_dir, "tokenizer"))
    size = PRESETS[ours["settings"]["preset"]]
    seq_len = ours["settings"]["seq_len"]
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)

    def backbone_inputs(ids):
        return {
            "token_ids": ids,
            "segment_ids": keras.ops.zeros_like(ids),
            "padding_mask": keras.ops.not_equal(ids, 0),
        }

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocab_size,
        num_layers=size["num_layers"],
        num_heads=size["num_heads"],
        hidden_dim=size["d_model"],
        intermediate_dim=size["dff"],
        dropout=0.1,
        max_sequence_length=size["max_length"],
    )
    head = keras_hub.layers.MaskedLMHead(
        vocabulary_size=tokenizer.vocab_size,
        token_embedding=backbone.token_embedding,
        activation="gelu",
    )
    ids = keras.Input((None,), dtype="int32")
    positions = keras.Input((None,), dtype="int32")
    outputs = backbone(backbone_inputs(ids))
    logits = keras.ops.cast(head(outputs["sequence_output"], positions), "float32")
    mlm = keras.Model({"token_ids": ids, "mask_positions": positions}, logits)
    mlm.compile(
        optimizer=masked_lm.bert_optimizer(schedule, ours["settings"].get("weight_decay", 0.01)),
        loss=masked_loss,
        metrics=[masked_accuracy],
    )
    texts = masked_lm.pretraining_texts(specs(data)["pretrain"])
    config = ours["settings"]

    def batches(split, shuffle):
        return masked_lm_batches.make_mlm_batches(
            tf.data.Dataset.from_tensor_slices(tf.constant(texts[split], tf.string)),
            tokenizer,
            seq_len,
            config["batch_size"],
            config["mask_rate"],
            shuffle=10000 if shuffle else 0,
            seed=0,
        )

    start = time.perf_counter()
    history = mlm.fit(
        batches("train", True),
        validation_data=batches("validation", False).cache(),
        epochs=config["epochs"],
        verbose=2,
    )
    result = {
        "pretrain": {
            "validation_loss": history.history["val_loss"][-1],
            "validation_masked_accuracy": history.history["val_masked_accuracy"][-1],
        },
        "pretrain_minutes": (time.perf_counter() - start) / 60,
    }
    pretrained_weights = backbone.get_weights()
    corpus = load_corpus(specs(data)["labelled"])
    dev = _classification_batches(corpus.validation, tokenizer, seq_len, shuffle=False)
    for limit in LIMITS:
        keras.utils.set_random_seed(0)
        backbone.set_weights(pretrained_weights)
        train = stable_subset(corpus.train, limit, key=lambda ex: ex[0])
        data_train = _classification_batches(train, tokenizer, seq_len, shuffle=True)
        steps = int(data_train.cardinality())
        total = steps * EPOCHS[limit]
        fine = masked_lm.bert_schedule(
            FINETUNE["learning_rate"], int(FINETUNE["warmup_fraction"] * total), total
        )
        pooled = backbone(backbone_inputs(ids))["pooled_output"]
        hidden = keras.layers.Dropout(0.1)(pooled)
        classes = keras.ops.cast(keras.layers.Dense(2)(hidden), "float32")
        classifier = keras.Model(ids, classes)
        classifier.compile(
            optimizer=masked_lm.bert_optimizer(fine, FINETUNE["weight_decay"]),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        classifier.fit(data_train, epochs=EPOCHS[limit], verbose=2)
        accuracy = classifier.evaluate(dev, verbose=0, return_dict=True)["accuracy"]
        result[str(limit or "all")] = {"pretrained": {"accuracy": float(accuracy)}}
        print(f"KerasHub BertBackbone, {limit or 'all'} examples: dev {100 * accuracy:.1f}%")
    keras.config.set_dtype_policy("float32")
    return result


def _classification_batches(examples, tokenizer, seq_len, shuffle):
    import tensorflow as tf

    from pipelines import masked_lm_batches

    texts = tf.constant([t for t, _ in examples], tf.string)
    labels = tf.constant([int(label) for _, label in examples], tf.int32)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    return masked_lm_batches.make_classification_batches(
        dataset,
        tokenizer,
        seq_len,
        FINETUNE["batch_size"],
        shuffle=100_000 if shuffle else 0,
        seed=0,
    )


def report(results):
    from benchmarks.common import machine, table

    policy = results.get("ours", {}).get("precision", "the recipe's auto choice")
    print(f"Machine: {machine(policy)}\n")
    rows = []
    for limit in ("2000", "all"):
        row = [f"{int(limit):,}" if limit != "all" else "all 67,349"]
        ours = results.get("ours", {}).get(limit, {})
        for start in ("scratch", "pretrained"):
            figure = ours.get(start, {}).get("accuracy")
            row.append(f"{100 * figure:.1f}" if figure is not None else "")
        hub = results.get("hub", {}).get(limit, {}).get("pretrained", {}).get("accuracy")
        bow = results.get("bow", {}).get(limit, {}).get("accuracy")
        row += [f"{100 * v:.1f}" if v is not None else "" for v in (hub, bow)]
        rows.append(row)
    header = [
        "labelled examples",
        "ours, random init",
        "ours, pretrained",
        "KerasHub BertBackbone, pretrained",
        "bag of words",
    ]
    print("SST-2 dev accuracy (%), 872 sentences:\n")
    print(table(header, rows))
    for name in ("ours", "hub"):
        if name in results:
            r = results[name]
            print(
                f"\n{name}: pretraining {r['pretrain_minutes']:.1f} min, validation masked "
                f"accuracy {100 * r['pretrain']['validation_masked_accuracy']:.1f}%"
            )
    variants = (
        {"recipe": results["ours"], **results.get("variants", {})} if "ours" in results else {}
    )
    if len(variants) > 1:
        print("\nAblation (ours; dev accuracy %, random init -> pretrained):\n")
        rows = []
        for name, r in variants.items():
            changes = r.get("changes", "the settings above")
            cells = [
                f"{100 * r[limit]['scratch']['accuracy']:.1f} -> "
                f"{100 * r[limit]['pretrained']['accuracy']:.1f}"
                if limit in r
                else ""
                for limit in ("2000", "all")
            ]
            masked = 100 * r["pretrain"]["validation_masked_accuracy"]
            rows.append([name, f"`{changes}`", f"{masked:.1f}", *cells])
        print(table(["variant", "changes", "masked acc.", "2,000 examples", "all"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/sst2")
    parser.add_argument("--only", default="bow,ours,hub", help="comma-separated parts")
    parser.add_argument("--out", default="runs/bench_real_bert")
    parser.add_argument("--report", action="store_true", help="print the saved results only")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help='an ablation of ours: {"pretrain": {...}, "finetune": {...}} over the settings',
    )
    args = parser.parse_args(argv)
    results, save = saved_results(args.out)
    if not args.report:
        if not os.path.isfile(os.path.join(args.data, "train.tsv")):
            print(f"{args.data}: no train.tsv (see ../shared/data/README.md)", file=sys.stderr)
            return 2
        for part in args.only.split(","):
            if part == "bow":
                results["bow"] = run_bow(args.data)
            elif part == "ours":
                results["ours"] = run_ours(args.data, args.out)
            elif part == "hub":
                results["hub"] = run_hub(args.data, results["ours"])
            save()
        for variant in args.variant:
            name, _, changes = variant.partition("=")
            changes = json.loads(changes)
            pretrain = {**PRETRAIN, **changes.get("pretrain", {})}
            result = run_ours(args.data, args.out, pretrain, name, changes.get("finetune"))
            results.setdefault("variants", {})[name] = {**result, "changes": changes}
            save()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
