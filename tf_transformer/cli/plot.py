"""`tf-transformer plot`: positional encodings, schedules, attention heads, curves."""

import json
import os

from tf_transformer.cli.common import (
    check_positive,
)
from tf_transformer.errors import InputError


def add_commands(commands):
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
    schedule.add_argument(
        "--cooldown",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="the last FRACTION of --steps falls linearly toward 0 (translate train's "
        "default: 0.2)",
    )
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


def plot_encoding_command(args):
    check_positive(length=args.length, depth=args.depth)
    from tf_transformer.layers import positional_encoding
    from tf_transformer.plotting import plot_positional_encoding

    table = positional_encoding(args.length, args.depth)
    print(f"wrote {plot_positional_encoding(table, args.out)}")
    return 0


def plot_schedule_command(args):
    check_positive(d_model=args.d_model, warmup_steps=args.warmup_steps, steps=args.steps)
    import numpy as np

    from tf_transformer.plotting import plot_learning_rate
    from tf_transformer.training import run_schedule, schedule_of

    steps = np.arange(args.steps)
    try:
        record = run_schedule(args.d_model, args.steps, args.cooldown, args.warmup_steps)
    except ValueError as error:  # `cooldown_steps` checks the fraction
        raise InputError(f"--cooldown: {error}") from None
    cooldown = record["cooldown_steps"]
    schedule = schedule_of(args.d_model, record)
    rates = np.asarray(schedule(steps))
    title = f"CustomSchedule(d_model={args.d_model}, warmup_steps={args.warmup_steps})"
    if cooldown:
        title = (
            f"warm-up {record['warmup_steps']:,} steps, cool-down {cooldown:,} of {args.steps:,} "
            f"(d_model {args.d_model})"
        )
    print(f"wrote {plot_learning_rate(steps + 1, rates, args.out, title)}")
    print(f"peak {rates.max():.3g} at step {int(steps[rates.argmax()]) + 1}")
    return 0


def plot_attention_command(args):
    from pipelines import translation

    translator, _ = translation.load_run(args.run_dir)
    print(f"wrote {translation.plot_attention(translator, args.text, args.out)}")
    return 0


def plot_curves_command(args):
    from pipelines.runs import check_run
    from tf_transformer.plotting import plot_training_curves

    check_run(args.run_dir)  # a finished run of any family
    path = os.path.join(args.run_dir, "history.json")
    if not os.path.isfile(path):
        raise InputError(f"{args.run_dir}: no history.json")
    with open(path) as handle:
        history = json.load(handle)
    print(f"wrote {plot_training_curves(history, args.out, title=args.run_dir)}")
    return 0
