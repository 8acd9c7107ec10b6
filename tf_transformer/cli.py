"""The `tf-transformer` command.

Errors a user can cause are `InputError`s: printed on one line, exit code 2, no traceback.
Heavy imports (TensorFlow) happen inside the handlers, so `--help` and `--version` are quick.
"""

import argparse
import json
import os
import sys

from tf_transformer import __version__
from tf_transformer.errors import InputError

DOCKER_LINE = (
    "docker run -p 8500:8500 -p 8501:8501 "
    '--mount type=bind,source="{root}",target=/models/{name} '
    "-e MODEL_NAME={name} -t tensorflow/serving"
)
CURL_LINE = (
    'curl -d \'{{"instances": ["{text}"]}}\' -X POST http://localhost:8501/v1/models/{name}:predict'
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-transformer",
        description="Train, evaluate and export Transformers with Keras 3 and TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    translate = commands.add_parser("translate", help="the encoder-decoder translator")
    translate_commands = translate.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = translate_commands.add_parser("train", help="train a translator on a corpus")
    train.add_argument("--source", default="cldr:en-pt", help="corpus spec (default cldr:en-pt)")
    train.add_argument("--preset", default="tutorial", help="Transformer preset (default tutorial)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--max-tokens", type=int, default=40, help="longest sequence, in tokens")
    train.add_argument(
        "--tokenizer", default="sentencepiece", choices=["sentencepiece", "wordpiece"]
    )
    train.add_argument("--vocab-size", type=int, default=4000)
    train.add_argument("--warmup-steps", type=int, default=4000)
    train.add_argument("--label-smoothing", type=float, default=0.1)
    train.add_argument("--corpus-size", type=int, help="pairs of an embedded corpus")
    train.add_argument("--steps-per-epoch", type=int)
    train.add_argument("--jit-compile", action="store_true", help="compile the train step with XLA")
    train.add_argument(
        "--mixed-precision", choices=["bf16", "fp16"], help="mixed precision (float32 variables)"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--run-dir", help="default: runs/translate/<timestamp>")
    train.add_argument("--eval-limit", type=int, help="evaluate on at most this many pairs")
    train.add_argument(
        "--export", metavar="MODEL_DIR", help="then export (e.g. saved_models/translator) and check"
    )
    train.set_defaults(handler=translate_train)

    evaluate = translate_commands.add_parser("eval", help="BLEU, chrF, exact match of a run")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", default="test", choices=["train", "validation", "test"])
    evaluate.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    evaluate.add_argument("--limit", type=int, help="at most this many pairs")
    evaluate.set_defaults(handler=translate_eval)

    text = translate_commands.add_parser("text", help="translate strings with a trained run")
    text.add_argument("run_dir")
    text.add_argument("texts", nargs="+")
    text.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    text.set_defaults(handler=translate_text)

    export = translate_commands.add_parser("export", help="export a run for TF Serving")
    export.add_argument("run_dir")
    export.add_argument("--model-dir", default="saved_models/translator")
    export.add_argument("--version", type=int, help="default: one more than the newest")
    export.add_argument("--no-check", action="store_true", help="skip the conformance check")
    export.set_defaults(handler=translate_export)

    gpt = commands.add_parser("gpt", help="the GPT-style decoder (causal language model)")
    gpt_commands = gpt.add_subparsers(dest="action", metavar="ACTION", required=True)
    gpt_train = gpt_commands.add_parser("train", help="train a GPT on a text corpus")
    gpt_train.add_argument("--source", default="pydocs", help="corpus spec (default pydocs)")
    gpt_train.add_argument("--preset", default="gpt_mini", help="GPT preset (default gpt_mini)")
    gpt_train.add_argument("--epochs", type=int, default=5)
    gpt_train.add_argument("--batch-size", type=int, default=16)
    gpt_train.add_argument("--seq-len", type=int, default=128, help="window length, in tokens")
    gpt_train.add_argument("--vocab-size", type=int, default=8000)
    gpt_train.add_argument("--learning-rate", type=float, default=1e-3, help="peak of the schedule")
    gpt_train.add_argument("--warmup-steps", type=int, default=200)
    gpt_train.add_argument("--steps-per-epoch", type=int)
    gpt_train.add_argument("--mixed-precision", choices=["bf16", "fp16"])
    gpt_train.add_argument("--seed", type=int, default=0)
    gpt_train.add_argument("--run-dir", help="default: runs/gpt/<timestamp>")
    gpt_train.add_argument("--export", metavar="MODEL_DIR", help="then export (saved_models/gpt)")
    gpt_train.set_defaults(handler=gpt_train_command)

    gpt_generate = gpt_commands.add_parser("generate", help="continue prompts with a trained run")
    gpt_generate.add_argument("run_dir")
    gpt_generate.add_argument("prompts", nargs="+")
    gpt_generate.add_argument("--max-new-tokens", type=int, default=64)
    gpt_generate.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    gpt_generate.add_argument("--top-k", type=int, default=40, help="0 = no top-k filter")
    gpt_generate.add_argument("--top-p", type=float, default=0.95, help="1 = no nucleus filter")
    gpt_generate.add_argument("--seed", type=int, default=0)
    gpt_generate.set_defaults(handler=gpt_generate_command)

    gpt_export = gpt_commands.add_parser("export", help="export a run for TF Serving")
    gpt_export.add_argument("run_dir")
    gpt_export.add_argument("--model-dir", default="saved_models/gpt")
    gpt_export.add_argument("--version", type=int, help="default: one more than the newest")
    gpt_export.add_argument("--no-check", action="store_true", help="skip the conformance check")
    gpt_export.set_defaults(handler=gpt_export_command)

    serving = commands.add_parser("serving", help="check exports as TF Serving loads them")
    serving_commands = serving.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = serving_commands.add_parser("check", help="load an export with the C API and run it")
    check.add_argument("path", help="a version directory, e.g. saved_models/translator/1")
    check.set_defaults(handler=serving_check)
    return parser


def _print_metrics(metrics):
    print(
        f"{metrics['split']} ({metrics['pairs']:,} pairs, beam {metrics['beam_size']}): "
        f"BLEU {metrics['bleu']:.1f}  chrF {metrics['chrf']:.1f}  "
        f"exact match {100 * metrics['exact_match']:.1f}%"
    )
    for sample in metrics["samples"]:
        print(f"  {sample['source']}")
        print(f"    -> {sample['translation']}")
        print(f"    reference: {sample['reference']}")


def translate_train(args):
    from pipelines import translation

    config = translation.TranslateConfig(
        source=args.source,
        preset=args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_tokens=args.max_tokens,
        tokenizer=args.tokenizer,
        vocab_size=args.vocab_size,
        warmup_steps=args.warmup_steps,
        label_smoothing=args.label_smoothing,
        corpus_size=args.corpus_size,
        steps_per_epoch=args.steps_per_epoch,
        jit_compile=args.jit_compile,
        mixed_precision=args.mixed_precision,
        seed=args.seed,
    )
    _check_positive(epochs=args.epochs, batch_size=args.batch_size, max_tokens=args.max_tokens)
    run_dir = translation.train(config, args.run_dir)
    print(f"run directory: {run_dir}")
    metrics = translation.evaluate(run_dir, limit=args.eval_limit)
    _print_metrics(metrics)
    if args.export:
        _export_and_check(translation, run_dir, args.export)
    return 0


def _check_positive(**values):
    for name, value in values.items():
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def translate_eval(args):
    from pipelines import translation

    _check_positive(beam=args.beam, limit=args.limit)
    _print_metrics(translation.evaluate(args.run_dir, args.split, args.beam, args.limit))
    return 0


def translate_text(args):
    from pipelines import translation

    _check_positive(beam=args.beam)
    translator, _ = translation.load_run(args.run_dir)
    for text, output in zip(
        args.texts, translator.translate_strings(args.texts, args.beam), strict=True
    ):
        print(f"{text}\t{output}")
    return 0


def translate_export(args):
    from pipelines import translation

    _export_and_check(translation, args.run_dir, args.model_dir, args.version, not args.no_check)
    return 0


def _export_and_check(recipe, run_dir, model_dir, version=None, check=True):
    """Exports a run with its recipe module, checks it through the C API against the
    in-process answers, and prints how to serve it."""
    from tf_transformer.serving.conformance import check_export

    runner, _ = recipe.load_run(run_dir)  # once, for the export and the check
    path = recipe.export_runner(runner, model_dir, version)
    print(f"exported: {path}")
    if check:
        requests, expected = recipe.conformance_requests(runner)
        report = check_export(path, requests, expected)
        print("conformance check passed:")
        for line in report.lines():
            print(f"  {line}")
    _print_serving(path, recipe.EXAMPLE_INPUT)
    return path


def _print_serving(path, example):
    """The `docker run` line that serves the export's model directory, and a `curl`."""
    model_dir = os.path.dirname(os.path.abspath(path))
    relative = os.path.relpath(model_dir)
    root = model_dir if relative.startswith("..") else f"$(pwd)/{relative}"
    name = os.path.basename(model_dir)
    print("serve it with TensorFlow Serving (Docker):")
    print(f"  {DOCKER_LINE.format(root=root, name=name)}")
    print(f"  {CURL_LINE.format(text=example, name=name)}")


def gpt_train_command(args):
    from pipelines import causal_lm

    _check_positive(epochs=args.epochs, batch_size=args.batch_size, seq_len=args.seq_len)
    config = causal_lm.GPTConfig(
        source=args.source,
        preset=args.preset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        vocab_size=args.vocab_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        steps_per_epoch=args.steps_per_epoch,
        mixed_precision=args.mixed_precision,
        seed=args.seed,
    )
    run_dir = causal_lm.train(config, args.run_dir)
    print(f"run directory: {run_dir}")
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        metrics = json.load(handle)
    print(
        f"validation: loss {metrics['validation_loss']:.3f}, "
        f"perplexity {metrics['validation_perplexity']:.1f} "
        f"({metrics['validation_tokens']:,} tokens, vocabulary {metrics['tokenizer_vocab_size']:,})"
    )
    for prompt, completion in metrics["samples"].items():
        print(f"  {prompt!r} -> {completion!r}")
    if args.export:
        _export_and_check(causal_lm, run_dir, args.export)
    return 0


def _check_sampling(args):
    _check_positive(max_new_tokens=args.max_new_tokens)
    if args.temperature < 0:
        raise InputError(f"--temperature must be 0 or more, got {args.temperature}")
    if args.top_k < 0:
        raise InputError(f"--top-k must be 0 or more, got {args.top_k}")
    if not 0 < args.top_p <= 1:
        raise InputError(f"--top-p must be in (0, 1], got {args.top_p}")


def gpt_generate_command(args):
    _check_sampling(args)  # before TensorFlow is imported: a bad option answers at once
    from pipelines import causal_lm

    generator, _ = causal_lm.load_run(args.run_dir)
    completions = generator.complete_strings(
        args.prompts,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    for prompt, completion in zip(args.prompts, completions, strict=True):
        print(f"{prompt}\t{completion}")
    return 0


def gpt_export_command(args):
    from pipelines import causal_lm

    _export_and_check(causal_lm, args.run_dir, args.model_dir, args.version, not args.no_check)
    return 0


def serving_check(args):
    from tf_transformer.serving.conformance import check_export

    report = check_export(args.path)
    for line in report.lines():
        print(line)
    print("conformance check passed")
    return 0


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info lines
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args) or 0
    except InputError as error:
        print(f"tf-transformer: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # the conformance check's failure is an answer, not a crash
        from tf_transformer.serving.conformance import ConformanceError

        if isinstance(error, ConformanceError):
            print(f"tf-transformer: conformance check failed: {error}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
