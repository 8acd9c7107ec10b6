"""Real data for the encoder's other two jobs: MRPC sentence pairs (dev accuracy and F1 of
the paraphrase class) and CoNLL-2003 named entities (validation entity F1, `conlleval`
rules), pretrained against random weights and non-Transformer baselines.

1. `pretrain`: `bert pretrain` (masked LM, packed windows, whole words) on unlabelled news
   text: Reuters-21578's 19,043 articles, the CoNLL-2003 training sentences and MRPC's
   training sentences, their labels unused (`pretrain_source`), for at most `--minutes`.
2. `ours`: `bert finetune --from` that run on each task; each fine-tuning also runs from
   random weights (same size, tokenizer, schedule and steps: the recipe's
   `compare_scratch`).
   `lstm`: the CoNLL fine-tuning again with `--tag-head lstm` (a bidirectional LSTM
   between the encoder and the tag logits), from both starts; `crf`: with `--tag-head
   lstm --crf` (a linear-chain CRF on the tags); `features`: with `--tag-head lstm --crf
   --word-features` (each word's embedding and a character CNN of it joined to the
   encoder's output, as the baseline reads words; 10 epochs at 1e-3, as many as the
   baseline's). Every tagger, the baseline's too, is
   read with the IOB rule (`serving.entities`) and, for comparison, without it.
3. `hub`: KerasHub's `BertBackbone` of the same size with a `MaskedLMHead`, pretrained on
   the same packed, masked batches for as many epochs of the same schedule as ours made,
   then fine-tuned the same way (our batches, schedule and epochs; a dropout and dense
   head on its pooled output for pairs, on its sequence output for tags) and scored by
   the same code (`finetuning_reports.evaluate_task`, through our predictors).
4. `baselines`, trained in the same run: for MRPC the majority class and a bag of words of
   the two sentences (multi-hot of each and of the words they share, one dense layer);
   for CoNLL a Keras tagger of a bidirectional LSTM over word embeddings and a
   character CNN of each word (Ma and Hovy 2016 without the CRF)
   (`baselines_pairs_entities`).

Neither task's test set is in `../shared/data`: MRPC reports `dev.tsv`, CoNLL `valid.txt`.
Writes `results.json` into `--out` and prints the tables for RESULTS.md.

    .venv/bin/python -m benchmarks.bench_real_pairs_entities --data ../shared/data \\
        [--only pretrain,ours,lstm,crf,features,hub,baselines] [--tasks mrpc,conll] \\
        [--minutes 50] [--pretrained RUN_DIR] [--out DIR] [--report]
"""

import argparse
import os
import sys
import time

import keras

from benchmarks.baselines_pairs_entities import run_conll_baseline, run_mrpc_baselines, scores
from benchmarks.bench_real_bert import pretrain_result, pretrain_run
from benchmarks.common import saved_results

PRETRAIN = dict(
    preset="bert_tiny",
    seq_len=128,
    batch_size=64,
    epochs=14,  # about 475 steps an epoch: the budget ends it first on 2 cores
    mask_rate=0.15,
    learning_rate=1e-3,
    warmup_steps=500,
    vocab_size=8000,
    vocab_sample=20000,
)
TASKS = {
    "mrpc": dict(
        spec="tsv:train={data}/mrpc/train.tsv,validation={data}/mrpc/dev.tsv,test=0,"
        "text=#1 String,pair=#2 String,label=Quality",
        finetune=dict(task="classify", seq_len=128, epochs=10, batch_size=32, learning_rate=2e-4),
    ),
    "conll": dict(
        spec="conll:train={data}/conll2003/train.txt,validation={data}/conll2003/valid.txt,test=0",
        finetune=dict(task="tag", seq_len=128, epochs=5, batch_size=32, learning_rate=5e-4),
    ),
}
NAMES = {"mrpc": "MRPC dev (408 pairs)", "conll": "CoNLL-2003 validation (5,942 entities)"}
TAGGERS = {  # the CoNLL fine-tuning again with other heads: part -> FinetuneConfig options
    "lstm": dict(tag_head="lstm"),
    "crf": dict(tag_head="lstm", crf=True),
    # the new word vectors learn from scratch: as long and as fast as the baseline's
    "features": dict(tag_head="lstm", crf=True, word_features=True, epochs=10, learning_rate=1e-3),
}


def pretrain_source(data):
    mrpc = f"tsv:train={data}/mrpc/train.tsv,validation={data}/mrpc/dev.tsv,label=Quality"
    return "+".join(
        [
            f"{data}/reuters21578/news.txt",
            TASKS["conll"]["spec"].format(data=data),
            f"{mrpc},text=#1 String",
            f"{mrpc},text=#2 String",
        ]
    )


def run_ours(data, out_dir, pretrained, task, part="ours"):
    from pipelines import finetuning
    from pipelines.runs import read_json

    start = time.perf_counter()
    config = finetuning.FinetuneConfig(
        source=TASKS[task]["spec"].format(data=data),
        from_run=pretrained,
        warmup_fraction=0.1,
        **{**TASKS[task]["finetune"], **TAGGERS.get(part, {})},
    )
    name = task + {"ours": "", "lstm": "_lstm", "crf": "_lstm_crf"}.get(part, f"_{part}")
    run_dir = finetuning.finetune(config, os.path.join(out_dir, name), overwrite=True)
    metrics = read_json(run_dir, "metrics.json")
    result = {start_from: scores(report) for start_from, report in metrics.items()}
    if config.task == "tag":  # the same models read without the IOB rule
        for start_from, directory in (("pretrained", run_dir), ("scratch", f"{run_dir}/scratch")):
            result[start_from]["f1_no_rule"] = _f1_without_rule(run_dir, directory, config.source)
    return {**result, "minutes": (time.perf_counter() - start) / 60, "run": run_dir}


def _f1_without_rule(run_dir, model_dir, spec):
    """Entity F1 of the model in `model_dir` (the run's, or its `scratch/` one, which
    shares the run's tokenizer and settings) with each word's most likely tag."""
    from pipelines import finetuning
    from pipelines.corpora import load_corpus
    from pipelines.finetuning_reports import evaluate_task
    from tf_transformer.serving import bert as bert_serving

    predictor, config = finetuning.load_run(run_dir)
    model = keras.models.load_model(os.path.join(model_dir, "model.keras"), compile=False)
    free = bert_serving.TokenTagger(
        model, predictor.tokenizer, config["seq_len"], False, predictor.features
    )
    report = evaluate_task(free, load_corpus(spec), "validation", None, log=lambda *_: None)
    return report["entities"]["f1"]


def run_hub(data, ours_pretrain, tasks):
    """KerasHub's backbone pretrained as ours was (`bench_real_bert.hub_pretrain`, as many
    epochs as ours made), fine-tuned on each task as `run_ours` fine-tunes."""

    from benchmarks.hub_bert import hub_pretrain
    from pipelines.runs import read_json

    made = len(read_json(ours_pretrain["run"], "history.json")["loss"])
    source = pretrain_source(data)
    backbone, result, tokenizer = hub_pretrain(source, ours_pretrain, epochs=made)
    weights = backbone.get_weights()
    keras.config.set_dtype_policy("float32")  # the heads: as ours, float32 logits
    for task in tasks:
        backbone.set_weights(weights)
        result[task] = _hub_finetune(data, task, backbone, tokenizer, ours_pretrain)
    return result


def _hub_finetune(data, task, backbone, tokenizer, ours_pretrain):

    from pipelines import masked_lm
    from pipelines.corpora import load_corpus
    from pipelines.finetuning import NO_TAG
    from pipelines.finetuning_reports import evaluate_task
    from pipelines.masked_lm_batches import make_classification_batches, make_tagging_batches
    from tf_transformer.serving import bert as bert_serving
    from tf_transformer.training import masked_accuracy, masked_loss

    settings = TASKS[task]["finetune"]
    corpus = load_corpus(TASKS[task]["spec"].format(data=data))
    keras.utils.set_random_seed(0)
    seq_len, tagging = settings["seq_len"], settings["task"] == "tag"
    make = make_tagging_batches if tagging else make_classification_batches
    train = make(corpus.dataset("train"), tokenizer, seq_len, settings["batch_size"], 10000, 0)
    labels = [NO_TAG, *corpus.labels] if tagging else list(corpus.labels)
    model = HubTaskModel(backbone, labels, tagging)
    total = int(train.cardinality()) * settings["epochs"]
    schedule = masked_lm.bert_schedule(settings["learning_rate"], int(0.1 * total), total)
    if tagging:
        loss, metrics = masked_loss, [masked_accuracy]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = ["accuracy"]
    model.compile(optimizer=masked_lm.bert_optimizer(schedule, 0.01), loss=loss, metrics=metrics)
    start = time.perf_counter()
    model.fit(train, epochs=settings["epochs"], verbose=2)
    minutes = (time.perf_counter() - start) / 60
    predictor = (bert_serving.TokenTagger if tagging else bert_serving.PairClassifier)(
        model, tokenizer, seq_len
    )
    report = evaluate_task(predictor, corpus, "validation", None)
    return {"pretrained": scores(report), "minutes": minutes}


class HubTaskModel(keras.Model):
    """A KerasHub `BertBackbone` with a task head, called as our task models are (token ids
    for a tagger, `{"token_ids", "segment_ids"}` for a classifier of pairs), so that our
    predictors and reports score it: dropout and a dense layer on the sequence output
    (tags, class 0 "no tag") or on the pooled `[CLS]` output (classes)."""

    def __init__(self, backbone, labels, tagging, **kwargs):
        super().__init__(**kwargs)
        self.backbone, self.tagging, self.labels = backbone, tagging, labels
        self.num_tags = self.num_classes = len(labels)
        self.dropout = keras.layers.Dropout(0.1)
        self.head = keras.layers.Dense(len(labels))
        example = keras.ops.ones((1, 4), "int32")
        self(example if tagging else {"token_ids": example, "segment_ids": example * 0})

    def call(self, inputs, training=None):
        if isinstance(inputs, dict):
            ids, segments = inputs["token_ids"], inputs["segment_ids"]
        else:
            ids, segments = inputs, keras.ops.zeros_like(inputs)
        outputs = self.backbone(
            {"token_ids": ids, "segment_ids": segments, "padding_mask": ids != 0},
            training=training,
        )
        hidden = outputs["sequence_output" if self.tagging else "pooled_output"]
        return keras.ops.cast(self.head(self.dropout(hidden, training=training)), "float32")


def report(results):
    from benchmarks.common import machine, table

    policy = results.get("pretrain", {}).get("precision", "the recipe's auto choice")
    print(f"Machine: {machine(policy)}\n")
    pre = results.get("pretrain")
    if pre:
        print(
            f"Pretraining (ours, {pre['settings']['preset']}): {pre['minutes'] or 0:.0f} min; "
            f"validation masked accuracy "
            f"{100 * pre['metrics']['validation_masked_accuracy']:.1f}%\n"
        )
    ours, baselines = results.get("ours", {}), results.get("baselines", {})
    hub, lstm = results.get("hub", {}), results.get("lstm", {}).get("conll", {})
    crf = results.get("crf", {}).get("conll", {})
    featured = results.get("features", {}).get("conll", {})
    if hub:
        masked = hub["pretrain"]["validation_masked_accuracy"]
        print(
            f"Pretraining (KerasHub, the same batches and schedule, {hub['minutes']:.0f} min): "
            f"validation masked accuracy {100 * masked:.1f}%\n"
        )

    def cells(scores, keys):
        return [f"{100 * scores[k]:.1f}" if k in scores else "" for k in keys]

    if "mrpc" in ours or "mrpc" in baselines:
        rows = [
            [name, *cells(scores, ("accuracy", "f1"))]
            for name, scores in [
                ("ours, pretrained", ours.get("mrpc", {}).get("pretrained", {})),
                ("ours, random init", ours.get("mrpc", {}).get("scratch", {})),
                ("KerasHub BertBackbone, pretrained", hub.get("mrpc", {}).get("pretrained", {})),
                ("majority class", baselines.get("mrpc", {}).get("majority", {})),
                ("bag of words", baselines.get("mrpc", {}).get("bag_of_words", {})),
            ]
        ]
        print(f"{NAMES['mrpc']}:\n\n{table(['start', 'accuracy', 'F1'], rows)}\n")
    if "conll" in ours or "conll" in baselines or lstm or crf or featured:
        starts = [
            ("ours, pretrained", ours.get("conll", {}).get("pretrained", {})),
            ("ours, random init", ours.get("conll", {}).get("scratch", {})),
            ("ours, pretrained, `--tag-head lstm`", lstm.get("pretrained", {})),
            ("ours, random init, `--tag-head lstm`", lstm.get("scratch", {})),
            ("ours, pretrained, `--tag-head lstm --crf`", crf.get("pretrained", {})),
            ("ours, random init, `--tag-head lstm --crf`", crf.get("scratch", {})),
            ("ours, pretrained, `... --crf --word-features`", featured.get("pretrained", {})),
            ("ours, random init, `... --crf --word-features`", featured.get("scratch", {})),
            ("KerasHub BertBackbone, pretrained", hub.get("conll", {}).get("pretrained", {})),
            ("BiLSTM words + characters", baselines.get("conll", {}).get("bilstm", {})),
        ]
        types = sorted({t for _, scores in starts for t in scores.get("per_type", {})})
        rows = [
            [name, *cells(scores, ("f1", "f1_no_rule", "precision", "recall"))]
            + cells(scores.get("per_type", {}), types)
            for name, scores in starts
            if scores
        ]
        header = ["start", "entity F1", "without the IOB rule", "precision", "recall", *types]
        print(f"{NAMES['conll']}:\n\n{table(header, rows)}\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--only", default="pretrain,ours,baselines", help="comma-separated parts")
    parser.add_argument("--tasks", default="mrpc,conll", help="comma-separated: mrpc, conll")
    parser.add_argument("--minutes", type=float, default=50, help="pretraining budget")
    parser.add_argument("--pretrained", help="an existing pretraining run to use")
    parser.add_argument("--out", default="runs/bench_real_pairs_entities")
    parser.add_argument("--report", action="store_true", help="print the saved results only")
    args = parser.parse_args(argv)
    results, save = saved_results(args.out)
    tasks = [task for task in args.tasks.split(",") if task]
    if not args.report:
        for needed in ("mrpc/dev.tsv", "conll2003/valid.txt", "reuters21578/news.txt"):
            if not os.path.isfile(os.path.join(args.data, needed)):
                print(f"{args.data}: no {needed} (see ../shared/data/README.md)", file=sys.stderr)
                return 2
        for part in args.only.split(","):
            if part == "pretrain":
                if args.pretrained:
                    results["pretrain"] = pretrain_result(args.pretrained)
                else:
                    results["pretrain"] = pretrain_run(
                        pretrain_source(args.data), args.out, args.minutes, PRETRAIN
                    )
            elif part == "ours":
                for task in tasks:
                    pretrained = results["pretrain"]["run"]
                    results.setdefault("ours", {})[task] = run_ours(
                        args.data, args.out, pretrained, task
                    )
                    save()
            elif part in TAGGERS:  # the CoNLL tagger with a BiLSTM head (a CRF, features)
                if "conll" in tasks:
                    results.setdefault(part, {})["conll"] = run_ours(
                        args.data, args.out, results["pretrain"]["run"], "conll", part
                    )
            elif part == "hub":
                results["hub"] = run_hub(args.data, results["pretrain"], tasks)
            elif part == "baselines":
                baselines = results.setdefault("baselines", {})
                if "mrpc" in tasks:
                    baselines["mrpc"] = run_mrpc_baselines(
                        TASKS["mrpc"]["spec"].format(data=args.data)
                    )
                if "conll" in tasks:
                    baselines["conll"] = run_conll_baseline(
                        TASKS["conll"]["spec"].format(data=args.data)
                    )
            else:
                parser.error(
                    f"unknown part {part!r}; use pretrain, ours, {', '.join(TAGGERS)}, hub, "
                    "baselines"
                )
            save()
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
