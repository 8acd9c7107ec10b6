"""`tf-transformer gpt`: train a GPT, generate text, export."""

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

PROMPT_STARTS = ("end", "none")  # TextGenerator's prompt_start (named here: no TF import)


def add_commands(commands):
    gpt = commands.add_parser("gpt", help="the GPT-style decoder (causal language model)")
    gpt_commands = gpt.add_subparsers(dest="action", metavar="ACTION", required=True)
    gpt_train = gpt_commands.add_parser("train", help="train a GPT on a text corpus")
    gpt_train.add_argument("--source", default="pydocs", help="corpus spec (default pydocs)")
    gpt_train.add_argument(
        "--tokenizer",
        choices=["sentencepiece", "char", "byte"],
        default="sentencepiece",
        help="sentencepiece (learned, --vocab-size), char (the training text's characters) "
        "or byte (the 256 byte values)",
    )
    gpt_train.add_argument("--preset", default="gpt_mini", help="GPT preset (default gpt_mini)")
    size = gpt_train.add_argument_group("the model (default: the preset's)")
    size.add_argument("--num-layers", type=int)
    size.add_argument("--num-heads", type=int)
    size.add_argument("--d-model", type=int, help="width")
    size.add_argument("--dropout", type=float)
    size.add_argument(
        "--activation", choices=["gelu", "gelu_tanh"], help="gelu_tanh: GPT-2's approximation"
    )
    size.add_argument(
        "--initialization",
        choices=["keras", "gpt2"],
        help="gpt2: N(0, 0.02), residual projections scaled by 1/sqrt(2 * layers)",
    )
    gpt_train.add_argument("--epochs", type=int, default=5)
    gpt_train.add_argument("--batch-size", type=int, default=16)
    gpt_train.add_argument("--seq-len", type=int, default=128, help="window length, in tokens")
    gpt_train.add_argument("--vocab-size", type=int, default=8000, help="sentencepiece's")
    gpt_train.add_argument("--learning-rate", type=float, default=1e-3, help="peak of the schedule")
    gpt_train.add_argument(
        "--min-learning-rate", type=float, help="the cosine's floor (default a tenth of the peak)"
    )
    gpt_train.add_argument("--warmup-steps", type=int, default=200)
    gpt_train.add_argument(
        "--weight-decay", type=float, default=0.1, help="AdamW's (matrices only)"
    )
    gpt_train.add_argument("--beta2", dest="beta_2", type=float, default=0.95, help="AdamW's")
    gpt_train.add_argument(
        "--sample-prompt",
        dest="sample_prompts",
        action="append",
        metavar="TEXT",
        help="a prompt to sample from at each evaluation (repeatable; default: the start of "
        "the validation text)",
    )
    add_run_options(gpt_train, "runs/gpt", "saved_models/gpt")
    gpt_train.set_defaults(handler=gpt_train_command)

    gpt_generate = gpt_commands.add_parser("generate", help="continue prompts with a trained run")
    gpt_generate.add_argument("run_dir")
    gpt_generate.add_argument("prompts", nargs="+")
    gpt_generate.add_argument("--max-new-tokens", type=int, default=64)
    gpt_generate.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    gpt_generate.add_argument("--top-k", type=int, default=40, help="0 = no top-k filter")
    gpt_generate.add_argument("--top-p", type=float, default=0.95, help="1 = no nucleus filter")
    gpt_generate.add_argument("--seed", type=int, default=0)
    gpt_generate.add_argument(
        "--prompt-start", choices=PROMPT_STARTS, help="default: the run's (see gpt import)"
    )
    gpt_generate.set_defaults(handler=gpt_generate_command)

    add_export_command(gpt_commands, gpt_export_command, "saved_models/gpt")
    add_explain_command(gpt_commands, gpt_explain_command, "the GPT")
    gpt_import = add_import_command(gpt_commands, "GPT-2", gpt_import_command, "runs/gpt-import")
    gpt_import.add_argument(
        "--prompt-start",
        choices=PROMPT_STARTS,
        help="whether prompts start with <|endoftext|> (end) or not (none); default: as the "
        "source library generates (Hugging Face: none, KerasHub: end)",
    )


def gpt_train_command(args):
    from pipelines import causal_lm

    check_positive(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        num_layers=args.num_layers,
        num_heads=args.num_heads,
        d_model=args.d_model,
    )
    _check_optimizer(args)
    config = config_from(causal_lm.GPTConfig, args)
    run_dir = causal_lm.train(config, args.run_dir, overwrite=args.overwrite, resume=args.resume)
    print(f"run directory: {run_dir}")
    if not is_chief(config.strategy):
        return worker_done()
    metrics = read_metrics(run_dir)
    print(
        f"validation: loss {metrics['validation_loss']:.4f} a token, "
        f"perplexity {metrics['validation_perplexity']:.2f}, "
        f"{metrics['bits_per_character']:.4f} bits a character "
        f"({metrics['validation_tokens']:,} tokens, {metrics['validation_characters']:,} "
        f"characters, vocabulary {metrics['tokenizer_vocab_size']:,})"
    )
    for prompt, completion in metrics["samples"].items():
        print(f"  {prompt!r} -> {completion!r}")
    if args.export:
        export_and_check(causal_lm, run_dir, args.export)
    print_explain_hint("gpt", run_dir)
    return 0


def _check_optimizer(args):
    if args.dropout is not None and not 0 <= args.dropout < 1:
        raise InputError(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0 <= args.beta_2 < 1:
        raise InputError(f"--beta2 must be in [0, 1), got {args.beta_2}")
    if args.weight_decay < 0:
        raise InputError(f"--weight-decay must be 0 or more, got {args.weight_decay}")
    if args.learning_rate <= 0:
        raise InputError(f"--learning-rate must be more than 0, got {args.learning_rate}")
    floor = args.min_learning_rate
    if floor is not None and not 0 <= floor <= args.learning_rate:
        raise InputError(f"--min-learning-rate must be in [0, --learning-rate], got {floor}")


def _check_sampling(args):
    check_positive(max_new_tokens=args.max_new_tokens)
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
    if args.prompt_start:
        generator.prompt_start = args.prompt_start
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


def gpt_explain_command(args):
    from pipelines import causal_lm
    from tf_transformer.explain import trace_gpt

    return explain(args, causal_lm, "gpt", trace_gpt)


def gpt_export_command(args):
    from pipelines import causal_lm

    export_and_check(causal_lm, args.run_dir, args.model_dir, args.version, not args.no_check)
    return 0


def gpt_import_command(args):
    from pipelines import pretrained

    pretrained.import_gpt(
        args.source, args.run_dir, overwrite=args.overwrite, prompt_start=args.prompt_start
    )
    return 0
