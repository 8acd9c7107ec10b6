"""`tf-transformer bert`: pretrain, fine-tune, predict and export the BERT-style encoder."""

import argparse

from pipelines.runs import is_chief
from tf_transformer.cli.common import (
    add_export_command,
    add_import_command,
    add_run_options,
    check_positive,
    config_from,
    export_and_check,
    read_metrics,
    worker_done,
)
from tf_transformer.cli.explain import add_explain_command, explain, print_explain_hint
from tf_transformer.errors import InputError


def add_commands(commands):
    bert = commands.add_parser("bert", help="the BERT-style encoder: pretrain, fine-tune, serve")
    bert_commands = bert.add_subparsers(dest="action", metavar="ACTION", required=True)
    pretrain = bert_commands.add_parser("pretrain", help="masked-LM pretraining on text")
    pretrain.add_argument(
        "--source",
        default="pydocs",
        help="unlabelled text: a plain file (one document a line), text:FILE, a labelled "
        "file's texts (tsv:FILE,label=COLUMN), any corpus spec; several joined by + "
        "(default pydocs)",
    )
    pretrain.add_argument("--preset", default="bert_small", help="BERT preset (default bert_small)")
    pretrain.add_argument("--epochs", type=int, default=5)
    pretrain.add_argument("--batch-size", type=int, default=32)
    pretrain.add_argument(
        "--seq-len",
        type=int,
        help="window length, in tokens (default 128, or the --init-from run's: a longer one "
        "continues its short windows on long ones)",
    )
    pretrain.add_argument("--vocab-size", type=int, default=8000)
    pretrain.add_argument("--learning-rate", type=float, default=5e-4, help="peak of the schedule")
    pretrain.add_argument("--warmup-steps", type=int, default=200)
    pretrain.add_argument(
        "--mask-rate", type=float, default=0.15, help="share of tokens masked (default 0.15)"
    )
    pretrain.add_argument(
        "--whole-word-masking",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mask every piece of a chosen word together (default: on)",
    )
    add_markup_option(pretrain)
    add_run_options(pretrain, "runs/bert", "saved_models/fill_mask")
    pretrain.set_defaults(handler=bert_pretrain_command)

    finetune = bert_commands.add_parser("finetune", help="fine-tune for classification or tagging")
    finetune.add_argument("--task", required=True, choices=["classify", "tag"])
    finetune.add_argument(
        "--source",
        help="corpus spec (default cldr-langid for classify, cldr-tags for tag), e.g. "
        "tsv:FILE,label=COLUMN; pairs: tsv:FILE,text=COLUMN,pair=COLUMN,label=COLUMN; "
        "entities: conll:FILE",
    )
    finetune.add_argument(
        "--from", dest="from_run", metavar="RUN_DIR", help="a pretraining run (default: none)"
    )
    finetune.add_argument("--preset", default="bert_small", help="preset without --from")
    finetune.add_argument("--epochs", type=int, default=5)
    finetune.add_argument("--batch-size", type=int, default=32)
    finetune.add_argument("--seq-len", type=int, help="default: the pretraining run's")
    finetune.add_argument("--vocab-size", type=int, default=8000, help="tokenizer without --from")
    finetune.add_argument("--learning-rate", type=float, default=3e-4, help="peak of the schedule")
    finetune.add_argument(
        "--train-limit",
        type=int,
        metavar="N",
        help="fine-tune on N training examples only: the same N every run (chosen by a hash "
        "of the text), and fewer lie inside more",
    )
    finetune.add_argument(
        "--no-compare", action="store_true", help="skip the same fine-tuning from random weights"
    )
    finetune.add_argument(
        "--pooling",
        choices=["cls", "mean"],
        default="cls",
        help="a classifier's input: BERT's pooler on [CLS] (cls), or the mean of the tokens' "
        "vectors (mean)",
    )
    finetune.add_argument(
        "--tag-head",
        choices=["dense", "lstm"],
        default="dense",
        help="a tagger's head: BERT's dense layer on each token (dense), or a bidirectional "
        "LSTM over the tokens, then the dense layer (lstm)",
    )
    finetune.add_argument(
        "--crf",
        action="store_true",
        help="a tagger's: a linear-chain CRF over the words' tags (learned transitions, the "
        "true sequence's likelihood as the loss, Viterbi to predict)",
    )
    finetune.add_argument(
        "--word-features",
        action="store_true",
        help="a tagger's: each word's own features beside the encoder's, an embedding of the "
        "word (the training text's words) and a character CNN of its spelling",
    )
    finetune.add_argument(
        "--truncate",
        choices=["head", "tail", "head+tail"],
        default="head",
        help="what a classifier keeps of a text longer than --seq-len: its first pieces "
        "(head), its last (tail), or the first quarter and the last three quarters "
        "(head+tail: of 510 pieces, the first 128 and the last 382)",
    )
    add_markup_option(finetune)
    finetune.add_argument(
        "--learning-curve",
        type=sizes_list,
        metavar="N,N,...",
        help="also fine-tune on these numbers of labelled examples (e.g. 500,1000,2000,5000; "
        "each from the pretrained encoder and from random weights) and draw validation "
        "accuracy against them in learning_curve.png",
    )
    add_run_options(finetune, "runs/bert-<task>", "saved_models/classifier")
    finetune.set_defaults(handler=bert_finetune_command)

    predict = bert_commands.add_parser("predict", help="fill masks, classify or tag with a run")
    predict.add_argument("run_dir")
    predict.add_argument("texts", nargs="+")
    predict.add_argument(
        "--pair",
        action="append",
        metavar="TEXT",
        help="the second text of a pair, for a run fine-tuned on pairs: one --pair for "
        "each text, in order",
    )
    predict.set_defaults(handler=bert_predict_command)

    add_export_command(
        bert_commands, bert_export_command, None, "saved_models/fill_mask, classifier or tagger"
    )
    add_import_command(bert_commands, "BERT", bert_import_command, "runs/bert-import")
    explain = add_explain_command(bert_commands, bert_explain_command, "the encoder")
    explain.add_argument("--pair", help="the second text, for a run fine-tuned on pairs")


def sizes_list(text):
    try:
        sizes = sorted({int(item) for item in text.split(",") if item.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers joined by commas, got {text!r}"
        ) from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return sizes


def add_markup_option(parser):
    parser.add_argument(
        "--keep-markup",
        action="store_true",
        help="keep HTML tags such as <br /> in the text (default: each becomes a space)",
    )


def bert_pretrain_command(args):
    from pipelines import finetuning, masked_lm

    check_positive(epochs=args.epochs, batch_size=args.batch_size, seq_len=args.seq_len)
    if not 0 < args.mask_rate < 1:
        raise InputError(f"--mask-rate must be between 0 and 1, got {args.mask_rate}")
    config = config_from(masked_lm.PretrainConfig, args)
    run_dir = masked_lm.pretrain(config, args.run_dir, overwrite=args.overwrite, resume=args.resume)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return worker_done()
    metrics = read_metrics(run_dir)
    print(
        f"validation: masked-token loss {metrics['validation_loss']:.3f}, "
        f"perplexity {metrics['validation_perplexity']:.1f}, "
        f"masked accuracy {100 * metrics['validation_masked_accuracy']:.1f}%"
    )
    for text, fills in metrics["samples"].items():
        print(f"  {text!r} -> {fills}")
    if args.export:
        export_and_check(finetuning, run_dir, args.export)
    print_explain_hint("bert", run_dir)
    return 0


def bert_finetune_command(args):
    from pipelines import finetuning

    check_positive(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        train_limit=args.train_limit,
    )
    if args.task != "tag" and args.tag_head != "dense":
        raise InputError(f"--tag-head {args.tag_head} is for --task tag")
    for flag, value in (("--crf", args.crf), ("--word-features", args.word_features)):
        if args.task != "tag" and value:
            raise InputError(f"{flag} is for --task tag")
    default_source = {"classify": "cldr-langid", "tag": "cldr-tags"}[args.task]
    config = config_from(
        finetuning.FinetuneConfig,
        args,
        source=args.source or default_source,
        compare_scratch=not args.no_compare,
    )
    run_dir = finetuning.finetune(
        config, args.run_dir, overwrite=args.overwrite, resume=args.resume
    )
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return worker_done()
    metrics = read_metrics(run_dir)
    curve = metrics.pop("learning_curve", None)
    for start, report in metrics.items():
        origin = {"pretrained": "pretrained encoder", "continued": args.init_from}.get(
            start, "random weights"
        )
        for split_report in filter(None, (report.get("validation"), report)):
            _print_report(split_report, origin)
    if curve:
        for start, points in curve["points"].items():
            shown = ", ".join(f"{int(n):,}: {100 * a:.1f}%" for n, a in points.items())
            print(f"learning curve from {start}: {shown}")
        print(f"learning curve: {curve['png']}")
    if args.export:
        export_and_check(finetuning, run_dir, args.export)
    print_explain_hint("bert", run_dir)
    return 0


def _print_report(report, origin):
    split = report.get("split", "test")  # runs written before reports named their split
    if "accuracy" in report:
        macro = f", macro-F1 {100 * report['macro_f1']:.1f}" if "macro_f1" in report else ""
        if "positive_f1" in report:
            macro += f", F1 of {report['labels'][1]!r} {100 * report['positive_f1']:.1f}"
        print(
            f"{split} accuracy from {origin}: {100 * report['accuracy']:.1f}%{macro} "
            f"({report['examples']:,} texts; confusion matrix {report['confusion_matrix_png']})"
        )
        return
    print(f"{split} macro F1 from {origin}: {100 * report['macro_f1']:.1f}")
    for tag, scores in report["per_label"].items():
        print(f"  {tag:10s} F1 {100 * scores['f1']:5.1f}  ({scores['support']:,} words)")
    entities = report.get("entities")
    if entities:
        print(
            f"{split} entity F1 from {origin}: {100 * entities['f1']:.1f} (precision "
            f"{100 * entities['precision']:.1f}, recall {100 * entities['recall']:.1f}; "
            f"types confused: {entities.get('type_confusion_png', '-')})"
        )
        for kind, scores in sorted(entities["per_type"].items()):
            print(f"  {kind:10s} F1 {100 * scores['f1']:5.1f}  ({scores['support']:,} entities)")


def bert_predict_command(args):
    from pipelines import finetuning
    from tf_transformer.serving.client import strings

    predictor, config = finetuning.load_run(args.run_dir)
    texts = _predict_inputs(args, config)
    outputs = {key: strings(value) for key, value in predictor.predict(texts).items()}
    for row, text in enumerate(texts):
        text = "\t".join(text) if isinstance(text, tuple) else text
        if config["task"] == "pretrain":
            fills = [
                ", ".join(f"{t} {s:.2f}" for t, s in zip(tokens, scores, strict=True) if t)
                for tokens, scores in zip(
                    outputs["tokens"][row], outputs["scores"][row], strict=True
                )
            ]
            print(f"{text}\t" + " | ".join(f for f in fills if f))
        elif config["task"] == "classify":
            print(f"{text}\t{outputs['label'][row]}\t{max(outputs['probabilities'][row]):.3f}")
        else:
            pairs = zip(outputs["tokens"][row], outputs["tags"][row], strict=True)
            print(f"{text}\t" + " ".join(f"{w}/{t}" for w, t in pairs if w))
    return 0


def _predict_inputs(args, config):
    """The texts to predict on, paired with the `--pair`s for a run that reads pairs."""
    pairs = args.pair or []
    if not config.get("pairs"):
        if pairs:
            raise InputError(f"{args.run_dir} reads single texts; --pair is for a run of pairs")
        return args.texts
    if len(pairs) != len(args.texts):
        raise InputError(
            f"{args.run_dir} classifies pairs of texts: give one --pair for each text "
            f"({len(args.texts)} texts, {len(pairs)} --pair)"
        )
    return list(zip(args.texts, pairs, strict=True))


def bert_export_command(args):
    from pipelines import finetuning

    model_dir = args.model_dir or finetuning.MODEL_DIRS[finetuning.run_task(args.run_dir)]
    export_and_check(finetuning, args.run_dir, model_dir, args.version, not args.no_check)
    return 0


def bert_import_command(args):
    from pipelines import pretrained

    run_dir = pretrained.import_bert(args.source, args.run_dir, overwrite=args.overwrite)
    print(f"fine-tune it: tf-transformer bert finetune --task classify --from {run_dir}")
    return 0


def bert_explain_command(args):
    from pipelines import finetuning
    from tf_transformer.explain import trace_bert

    if args.pair is not None and not args.pair.strip():
        raise InputError("--pair is empty")
    return explain(args, finetuning, "bert", trace_bert, pair=args.pair)
