"""`tf-transformer translate`: train, evaluate, translate and export the translator."""

import argparse

from pipelines.runs import is_chief
from tf_transformer.cli.common import (
    add_export_command,
    add_run_options,
    check_positive,
    config_from,
    export_and_check,
    positive_int,
    worker_done,
)
from tf_transformer.cli.explain import add_explain_command, explain, print_explain_hint
from tf_transformer.errors import InputError


def add_commands(commands):
    translate = commands.add_parser("translate", help="the encoder-decoder translator")
    translate_commands = translate.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = translate_commands.add_parser("train", help="train a translator on a corpus")
    train.add_argument("--source", default="cldr:en-pt", help="corpus spec (default cldr:en-pt)")
    train.add_argument("--preset", default="tutorial", help="Transformer preset (default tutorial)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=64, help="pairs a batch (default 64)")
    train.add_argument(
        "--batch-tokens",
        type=positive_int,
        metavar="N",
        help="instead of --batch-size pairs, as many pairs of similar length as fit in "
        "about N tokens a batch",
    )
    train.add_argument(
        "--bucket",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="batches of pairs of similar length, each padded to its own longest (default); "
        "--no-bucket: random batches padded to their longest, as the TensorFlow tutorial",
    )
    train.add_argument(
        "--max-tokens", type=int, default=64, help="longest sequence, in tokens (default 64)"
    )
    train.add_argument(
        "--tokenizer", default="sentencepiece", choices=["sentencepiece", "wordpiece"]
    )
    train.add_argument("--vocab-size", type=int, default=8000, help="pieces a side (default 8,000)")
    train.add_argument(
        "--shared-vocab",
        action=argparse.BooleanOptionalAction,
        help="one tokenizer learned on both sides, with tied embeddings and output layer "
        "(default: as the preset; paper_base and paper_big share)",
    )
    train.add_argument(
        "--warmup-steps",
        type=int,
        help="default: the paper's 4,000; cut to end before the cool-down where the run is "
        "shorter (keeping the uncut warm-up's peak)",
    )
    train.add_argument(
        "--learning-rate",
        type=float,
        metavar="PEAK",
        help="the schedule's peak, reached at the end of the warm-up (default: the "
        "paper's formula, (d_model * warm-up steps)^-0.5)",
    )
    train.add_argument(
        "--cooldown",
        type=float,
        default=0.2,
        metavar="FRACTION",
        help="the run's last FRACTION of steps, over which the rate falls linearly toward 0 "
        "(default 0.2; 0 keeps the paper's schedule to the end)",
    )
    train.add_argument("--label-smoothing", type=float, default=0.1)
    train.add_argument("--corpus-size", type=int, help="pairs of an embedded corpus")
    train.add_argument("--eval-limit", type=int, help="evaluate on at most this many pairs")
    add_run_options(train, "runs/translate", "saved_models/translator")
    train.set_defaults(handler=translate_train)

    evaluate = translate_commands.add_parser("eval", help="BLEU, chrF, exact match of a run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument(
        "--source", help="score on this parallel corpus spec (default: the run's own)"
    )
    evaluate.add_argument("--split", default="test", choices=["train", "validation", "test"])
    evaluate.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    evaluate.add_argument("--limit", type=int, help="at most this many pairs")
    evaluate.set_defaults(handler=translate_eval)

    text = translate_commands.add_parser("text", help="translate strings with a trained run")
    text.add_argument("run_dir")
    text.add_argument("texts", nargs="+")
    text.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    text.set_defaults(handler=translate_text)

    add_export_command(translate_commands, translate_export, "saved_models/translator")
    explain = add_explain_command(translate_commands, translate_explain, "the translator")
    explain.add_argument(
        "--reference",
        help="a translation to score: each token's log-probability, and where "
        "greedy output first leaves it",
    )


def _print_metrics(metrics):
    print(
        f"{metrics['source']} {metrics['split']} ({metrics['pairs']:,} pairs, "
        f"beam {metrics['beam_size']}): "
        f"BLEU {metrics['bleu']:.1f}  chrF {metrics['chrf']:.1f}  "
        f"exact match {100 * metrics['exact_match']:.1f}%"
    )
    print(f"  sacreBLEU {metrics['bleu_signature']}; {metrics['chrf_signature']}")
    for sample in metrics["samples"]:
        print(f"  {sample['source']}")
        print(f"    -> {sample['translation']}")
        print(f"    reference: {sample['reference']}")


def translate_train(args):
    from pipelines import translation

    config = config_from(translation.TranslateConfig, args)
    check_positive(epochs=args.epochs, batch_size=args.batch_size, max_tokens=args.max_tokens)
    run_dir = translation.train(config, args.run_dir, overwrite=args.overwrite, resume=args.resume)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return worker_done()
    metrics = translation.evaluate(run_dir, limit=args.eval_limit)
    _print_metrics(metrics)
    if args.export:
        export_and_check(translation, run_dir, args.export)
    print_explain_hint("translate", run_dir)
    return 0


def translate_explain(args):
    from pipelines import translation
    from tf_transformer.explain import trace_translation

    if args.reference is not None and not args.reference.strip():
        raise InputError("--reference is empty")
    return explain(args, translation, "translation", trace_translation, reference=args.reference)


def translate_eval(args):
    from pipelines import translation

    check_positive(beam=args.beam, limit=args.limit)
    _print_metrics(
        translation.evaluate(args.run_dir, args.split, args.beam, args.limit, args.source)
    )
    return 0


def translate_text(args):
    from pipelines import translation

    check_positive(beam=args.beam)
    translator, _ = translation.load_run(args.run_dir)
    for text, output in zip(
        args.texts, translator.translate_strings(args.texts, args.beam), strict=True
    ):
        print(f"{text}\t{output}")
    return 0


def translate_export(args):
    from pipelines import translation

    export_and_check(translation, args.run_dir, args.model_dir, args.version, not args.no_check)
    return 0
