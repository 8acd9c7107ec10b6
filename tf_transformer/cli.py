"""The `tf-transformer` command.

Errors a user can cause are `InputError`s: printed on one line, exit code 2, no traceback.
Heavy imports (TensorFlow) happen inside the handlers, so `--help` and `--version` are quick.
"""

import argparse
import dataclasses
import json
import os
import sys

from pipelines.runs import is_chief
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
    train.add_argument("--eval-limit", type=int, help="evaluate on at most this many pairs")
    _add_run_options(train, "runs/translate", "saved_models/translator")
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

    _add_export_command(translate_commands, translate_export, "saved_models/translator")

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
    _add_run_options(gpt_train, "runs/gpt", "saved_models/gpt")
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

    _add_export_command(gpt_commands, gpt_export_command, "saved_models/gpt")

    bert = commands.add_parser("bert", help="the BERT-style encoder: pretrain, fine-tune, serve")
    bert_commands = bert.add_subparsers(dest="action", metavar="ACTION", required=True)
    pretrain = bert_commands.add_parser("pretrain", help="masked-LM pretraining on text")
    pretrain.add_argument(
        "--source", default="pydocs", help="corpus spec, or several joined by + (default pydocs)"
    )
    pretrain.add_argument("--preset", default="bert_small", help="BERT preset (default bert_small)")
    pretrain.add_argument("--epochs", type=int, default=5)
    pretrain.add_argument("--batch-size", type=int, default=32)
    pretrain.add_argument("--seq-len", type=int, default=128, help="longest input, in tokens")
    pretrain.add_argument("--vocab-size", type=int, default=8000)
    pretrain.add_argument("--learning-rate", type=float, default=5e-4, help="peak of the schedule")
    pretrain.add_argument("--warmup-steps", type=int, default=200)
    _add_run_options(pretrain, "runs/bert", "saved_models/fill_mask")
    pretrain.set_defaults(handler=bert_pretrain_command)

    finetune = bert_commands.add_parser("finetune", help="fine-tune for classification or tagging")
    finetune.add_argument("--task", required=True, choices=["classify", "tag"])
    finetune.add_argument(
        "--source", help="corpus spec (default cldr-langid for classify, cldr-tags for tag)"
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
        "--train-limit", type=int, help="fine-tune on the first N training examples only"
    )
    finetune.add_argument(
        "--no-compare", action="store_true", help="skip the same fine-tuning from random weights"
    )
    _add_run_options(finetune, "runs/bert-<task>", "saved_models/classifier")
    finetune.set_defaults(handler=bert_finetune_command)

    predict = bert_commands.add_parser("predict", help="fill masks, classify or tag with a run")
    predict.add_argument("run_dir")
    predict.add_argument("texts", nargs="+")
    predict.set_defaults(handler=bert_predict_command)

    _add_export_command(
        bert_commands, bert_export_command, None, "saved_models/fill_mask, classifier or tagger"
    )

    plot = commands.add_parser("plot", help="draw PNGs: encodings, schedules, attention, curves")
    plot_commands = plot.add_subparsers(dest="action", metavar="WHAT", required=True)
    encoding = plot_commands.add_parser("positional-encoding", help="the sinusoidal table")
    encoding.add_argument("--length", type=int, default=2048)
    encoding.add_argument("--depth", type=int, default=512)
    encoding.add_argument("--out", default="positional_encoding.png")
    encoding.set_defaults(handler=plot_encoding_command)
    schedule = plot_commands.add_parser("schedule", help="the paper's learning-rate schedule")
    schedule.add_argument("--d-model", type=int, default=128)
    schedule.add_argument("--warmup-steps", type=int, default=4000)
    schedule.add_argument("--steps", type=int, default=40000)
    schedule.add_argument("--out", default="learning_rate.png")
    schedule.set_defaults(handler=plot_schedule_command)
    attention = plot_commands.add_parser(
        "attention", help="a translator run's cross-attention heads for a sentence"
    )
    attention.add_argument("run_dir")
    attention.add_argument("text")
    attention.add_argument("--out", default="attention.png")
    attention.set_defaults(handler=plot_attention_command)
    curves = plot_commands.add_parser("curves", help="a run's training curves (history.json)")
    curves.add_argument("run_dir")
    curves.add_argument("--out", default="curves.png")
    curves.set_defaults(handler=plot_curves_command)

    serving = commands.add_parser("serving", help="check exports as TF Serving loads them")
    serving_commands = serving.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = serving_commands.add_parser("check", help="load an export with the C API and run it")
    check.add_argument("path", help="a version directory, e.g. saved_models/translator/1")
    check.set_defaults(handler=serving_check)

    config = serving_commands.add_parser(
        "config", help="regenerate models.config from the exported models"
    )
    config.add_argument("--root", default="saved_models", help="the export root")
    config.add_argument(
        "--base-path", default="/models", help="where the server sees the root (default /models)"
    )
    config.set_defaults(handler=serving_config)

    request = serving_commands.add_parser("request", help="send texts to a running server")
    request.add_argument("texts", nargs="+")
    request.add_argument(
        "--url", default="http://localhost:8501", help="REST URL, or gRPC host:port"
    )
    request.add_argument("--model", required=True, help="the model name, e.g. translator")
    request.add_argument("--signature", help="default: serving_default")
    request.add_argument("--input", default=None, help="input name (default: text or prompt)")
    request.add_argument("--grpc", action="store_true", help="use gRPC (port 8500) instead of REST")
    request.add_argument(
        "--columnar", action="store_true", help="REST columnar format (inputs) instead of rows"
    )
    request.set_defaults(handler=serving_request)
    return parser


def _add_run_options(parser, runs, model_dir):
    """The options every training command has."""
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--jit-compile", action="store_true", help="compile train steps with XLA")
    parser.add_argument(
        "--mixed-precision",
        choices=["bf16", "fp16"],
        help="mixed precision (float32 variables; fp16 with dynamic loss scaling)",
    )
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi-worker"],
        default="default",
        help="tf.distribute strategy: one device, all local GPUs, or the TF_CONFIG cluster",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help=f"default: {runs}/<timestamp>")
    parser.add_argument(
        "--export", metavar="MODEL_DIR", help=f"then export (e.g. {model_dir}) and check"
    )


def _add_export_command(commands, handler, model_dir, default_help=None):
    """`<family> export RUN_DIR [--model-dir] [--version] [--no-check]`."""
    export = commands.add_parser("export", help="export a run for TF Serving")
    export.add_argument("run_dir")
    export.add_argument(
        "--model-dir", default=model_dir, help=f"default: {default_help or model_dir}"
    )
    export.add_argument("--version", type=int, help="default: one more than the newest")
    export.add_argument("--no-check", action="store_true", help="skip the conformance check")
    export.set_defaults(handler=handler)


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

    config = _config(translation.TranslateConfig, args)
    _check_positive(epochs=args.epochs, batch_size=args.batch_size, max_tokens=args.max_tokens)
    run_dir = translation.train(config, args.run_dir)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return _worker_done()
    metrics = translation.evaluate(run_dir, limit=args.eval_limit)
    _print_metrics(metrics)
    if args.export:
        _export_and_check(translation, run_dir, args.export)
    return 0


def _worker_done():
    """A multi-worker run's other workers stop after training: the chief, whose weights
    are the same, evaluates and exports."""
    print("this worker's part is done (evaluation and export are the chief's)")
    return 0


def _config(cls, args, **values):
    """A recipe's config dataclass from the parsed options of the same names, and `values`."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in vars(args).items() if k in names}, **values})


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
    example = recipe.example_input(runner) if hasattr(recipe, "example_input") else None
    _print_serving(path, example or recipe.EXAMPLE_INPUT)
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
    config = _config(causal_lm.GPTConfig, args)
    run_dir = causal_lm.train(config, args.run_dir)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return _worker_done()
    metrics = _read_metrics(run_dir)
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


def bert_pretrain_command(args):
    from pipelines import masked_lm

    _check_positive(epochs=args.epochs, batch_size=args.batch_size, seq_len=args.seq_len)
    config = _config(masked_lm.PretrainConfig, args)
    run_dir = masked_lm.pretrain(config, args.run_dir)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return _worker_done()
    metrics = _read_metrics(run_dir)
    print(
        f"validation: masked-token loss {metrics['validation_loss']:.3f}, "
        f"perplexity {metrics['validation_perplexity']:.1f}, "
        f"masked accuracy {100 * metrics['validation_masked_accuracy']:.1f}%"
    )
    for text, fills in metrics["samples"].items():
        print(f"  {text!r} -> {fills}")
    if args.export:
        _export_and_check(masked_lm, run_dir, args.export)
    return 0


def _read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        return json.load(handle)


def bert_finetune_command(args):
    from pipelines import masked_lm

    _check_positive(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        train_limit=args.train_limit,
    )
    default_source = {"classify": "cldr-langid", "tag": "cldr-tags"}[args.task]
    config = _config(
        masked_lm.FinetuneConfig,
        args,
        source=args.source or default_source,
        compare_scratch=not args.no_compare,
    )
    run_dir = masked_lm.finetune(config, args.run_dir)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return _worker_done()
    for start, report in _read_metrics(run_dir).items():
        origin = "pretrained encoder" if start == "pretrained" else "random weights"
        if "accuracy" in report:
            print(
                f"test accuracy from {origin}: {100 * report['accuracy']:.1f}% "
                f"({report['examples']:,} texts; confusion matrix {report['confusion_matrix_png']})"
            )
        else:
            print(f"test macro F1 from {origin}: {100 * report['macro_f1']:.1f}")
            for tag, scores in report["per_label"].items():
                print(f"  {tag:10s} F1 {100 * scores['f1']:5.1f}  ({scores['support']:,} words)")
    if args.export:
        _export_and_check(masked_lm, run_dir, args.export)
    return 0


def bert_predict_command(args):
    from pipelines import masked_lm
    from tf_transformer.serving.client import strings

    predictor, config = masked_lm.load_run(args.run_dir)
    outputs = {key: strings(value) for key, value in predictor.predict(args.texts).items()}
    for row, text in enumerate(args.texts):
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


def bert_export_command(args):
    from pipelines import masked_lm

    model_dir = args.model_dir or masked_lm.MODEL_DIRS[masked_lm.run_task(args.run_dir)]
    _export_and_check(masked_lm, args.run_dir, model_dir, args.version, not args.no_check)
    return 0


def serving_check(args):
    from tf_transformer.serving.conformance import check_export

    report = check_export(args.path)
    for line in report.lines():
        print(line)
    print("conformance check passed")
    return 0


def plot_encoding_command(args):
    _check_positive(length=args.length, depth=args.depth)
    from tf_transformer.layers import positional_encoding
    from tf_transformer.plotting import plot_positional_encoding

    table = positional_encoding(args.length, args.depth)
    print(f"wrote {plot_positional_encoding(table, args.out)}")
    return 0


def plot_schedule_command(args):
    _check_positive(d_model=args.d_model, warmup_steps=args.warmup_steps, steps=args.steps)
    import numpy as np

    from tf_transformer.plotting import plot_learning_rate
    from tf_transformer.training import CustomSchedule

    steps = np.arange(args.steps)
    rates = np.asarray(CustomSchedule(args.d_model, args.warmup_steps)(steps))
    title = f"CustomSchedule(d_model={args.d_model}, warmup_steps={args.warmup_steps})"
    print(f"wrote {plot_learning_rate(steps + 1, rates, args.out, title)}")
    print(f"peak {rates.max():.3g} at step {int(steps[rates.argmax()]) + 1}")
    return 0


def plot_attention_command(args):
    from pipelines import translation

    translator, _ = translation.load_run(args.run_dir)
    print(f"wrote {translation.plot_attention(translator, args.text, args.out)}")
    return 0


def plot_curves_command(args):
    from tf_transformer.plotting import plot_training_curves

    path = os.path.join(args.run_dir, "history.json")
    if not os.path.isfile(path):
        raise InputError(f"{args.run_dir}: no history.json (not a finished run)")
    with open(path) as handle:
        history = json.load(handle)
    print(f"wrote {plot_training_curves(history, args.out, title=args.run_dir)}")
    return 0


def serving_config(args):
    from tf_transformer.serving.model_config import write_model_config

    path, names = write_model_config(args.root, args.base_path)
    print(f"wrote {path}: {', '.join(names)}")
    root = os.path.abspath(args.root)
    print("serve them all with TensorFlow Serving (Docker):")
    print(
        f'  docker run -p 8500:8500 -p 8501:8501 --mount type=bind,source="{root}",'
        f"target={args.base_path} -t tensorflow/serving "
        f"--model_config_file={args.base_path}/models.config"
    )
    return 0


def serving_request(args):
    from tf_transformer.serving.client import GrpcClient, RestClient, ServingError, strings

    name = args.input or ("prompt" if args.model == "gpt" else "text")
    try:
        if args.grpc:
            client = GrpcClient(args.url.split("://")[-1], args.model)
            outputs = client.predict({name: args.texts}, args.signature)
            rows = [
                {key: value[i] for key, value in outputs.items()} for i in range(len(args.texts))
            ]
        else:
            client = RestClient(args.url, args.model)
            if args.columnar:
                outputs = client.predict({name: args.texts}, args.signature, columnar=True)
                rows = outputs  # one output: a list of values, as in the row format
                if isinstance(outputs, dict):
                    rows = [
                        {key: value[i] for key, value in outputs.items()}
                        for i in range(len(args.texts))
                    ]
            else:
                rows = client.predict([{name: text} for text in args.texts], args.signature)
    except ServingError as error:
        raise InputError(f"the server answered: {error}") from None
    for text, row in zip(args.texts, rows, strict=True):
        print(f"{text}\t{json.dumps(strings(row), ensure_ascii=False)}")
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
