"""What the command modules share: run and export options, argument checks, export and
check, and how to print what a run measured."""

import argparse
import dataclasses
import json
import os
import re
import shlex

from pipelines.runs.options import BACKUP_EVERY
from tf_transformer.errors import InputError

DOCKER_LINE = (
    "docker run -p 8500:8500 -p 8501:8501 "
    '--mount type=bind,source="{root}",target=/models/{name} '
    "-e MODEL_NAME={name} -t tensorflow/serving"
)
CURL_LINE = "curl -d {body} -X POST http://localhost:8501/v1/models/{name}:predict"


def add_run_options(parser, runs, model_dir):
    """The options every training command has."""
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--jit-compile", action="store_true", help="compile train steps with XLA")
    parser.add_argument(
        "--mixed-precision",
        choices=["auto", "bf16", "fp16", "float32"],
        default="auto",
        help="auto (default): bf16 where the GPU/TPU/CPU computes it natively, else float32; "
        "bf16/fp16 force mixed precision (float32 variables; fp16 with loss scaling)",
    )
    parser.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi-worker"],
        default="default",
        help="tf.distribute strategy: one device, all local GPUs, or the TF_CONFIG cluster",
    )
    parser.add_argument(
        "--time-budget",
        type=duration,
        metavar="DURATION",
        help="stop training gracefully after this wall-clock time (e.g. 90s, 6m, 1h30m)",
    )
    parser.add_argument(
        "--vocab-sample",
        type=positive_int,
        default=200_000,
        metavar="N",
        help="learn the vocabulary from at most N texts, evenly spaced (default 200,000)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", help=f"default: {runs}/<timestamp>")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run of this family in --run-dir (swapped in at the new run's first "
        "backup; a directory that holds no run is never touched)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the unfinished run in --run-dir from its last backup (same options but "
        "--epochs, --time-budget, --backup-every; a change is said and recorded)",
    )
    parser.add_argument(
        "--init-from",
        metavar="RUN",
        help="start from a finished run's weights and tokenizers (new schedule, new epochs)",
    )
    parser.add_argument(
        "--backup-every",
        type=positive_int,
        default=BACKUP_EVERY,
        metavar="STEPS",
        help=f"back up the training state every STEPS steps and after every epoch "
        f"(default {BACKUP_EVERY})",
    )
    parser.add_argument(
        "--export", metavar="MODEL_DIR", help=f"then export (e.g. {model_dir}) and check"
    )


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def duration(text: str) -> float:
    """Seconds in `90`, `90s`, `6m`, `1.5h` or `1h30m`."""
    parts = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not text.strip() or parts is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 6m, 1h30m)")
    hours, minutes, seconds = (float(p) if p else 0.0 for p in parts.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise argparse.ArgumentTypeError(f"a time budget must be positive, got {text!r}")
    return total


def add_export_command(commands, handler, model_dir, default_help=None):
    """`<family> export RUN_DIR [--model-dir] [--version] [--no-check]`."""
    export = commands.add_parser("export", help="export a run for TF Serving")
    export.add_argument("run_dir")
    export.add_argument(
        "--model-dir", default=model_dir, help=f"default: {default_help or model_dir}"
    )
    export.add_argument("--version", type=int, help="default: one more than the newest")
    export.add_argument("--no-check", action="store_true", help="skip the conformance check")
    export.set_defaults(handler=handler)


def add_import_command(commands, checkpoint, handler, root):
    """`<family> import SOURCE [--run-dir] [--overwrite]`."""
    command = commands.add_parser(
        "import", help=f"a published {checkpoint} checkpoint as a run directory"
    )
    command.add_argument(
        "source",
        help="a Hugging Face checkpoint directory (config.json, model.safetensors, sharded "
        "safetensors or tf_model.h5, and the tokenizer's files), a KerasHub preset "
        "directory, or a KerasHub preset name (downloaded; needs keras-hub)",
    )
    command.add_argument("--run-dir", help=f"default: {root}/<timestamp>")
    command.add_argument(
        "--overwrite", action="store_true", help="replace a run of this family in --run-dir"
    )
    command.set_defaults(handler=handler)
    return command


def worker_done():
    """A multi-worker run's other workers stop after training: the chief, whose weights
    are the same, evaluates and exports."""
    print("this worker's part is done (evaluation and export are the chief's)")
    return 0


def config_from(cls, args, **values):
    """A recipe's config dataclass from the parsed options of the same names, and `values`."""
    names = {field.name for field in dataclasses.fields(cls)}
    return cls(**{**{k: v for k, v in vars(args).items() if k in names}, **values})


def check_positive(**values):
    for name, value in values.items():
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def export_and_check(recipe, run_dir, model_dir, version=None, check=True):
    """Exports a run with its recipe module, with warm-up requests of the run's own texts;
    checks that the served graph (the C API) answers as the export reloaded in Python and
    that the export answers as the run's model (`tf_transformer.serving.live_check`); and
    prints how to serve it, with one of the run's texts in the example request."""
    from tf_transformer.serving.conformance import check_export
    from tf_transformer.serving.live_check import compare_all

    runner, _ = recipe.load_run(run_dir)  # once, for the export and the check
    examples = run_examples(run_dir) or [
        recipe.example_input(runner) if hasattr(recipe, "example_input") else recipe.EXAMPLE_INPUT
    ]
    path = recipe.export_runner(runner, model_dir, version, warmup=examples)
    print(f"exported: {path}")
    if check:
        requests, lives = recipe.conformance_requests(runner, examples)
        report = check_export(path, requests)
        compared = compare_all(requests, report.reference, lives, runner.model)
        print("conformance check passed:")
        for line in [*report.lines(), *compared]:
            print(f"  {line}")
    print_serving(path, examples[0])
    return path


def run_examples(run_dir) -> list:
    """The texts a run recorded from its own data for examples (`config.json`'s
    "examples"); empty for runs that recorded none."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        return []
    with open(path) as handle:
        return list(json.load(handle).get("examples") or [])


def print_serving(path, example):
    """The `docker run` line that serves the export's model directory, and a `curl` that
    sends `example` (quoted for the shell): a text, or a `[text, pair]` list for a model
    that reads pairs."""
    model_dir = os.path.dirname(os.path.abspath(path))
    relative = os.path.relpath(model_dir)
    root = model_dir if relative.startswith("..") else f"$(pwd)/{relative}"
    name = os.path.basename(model_dir)
    if isinstance(example, list | tuple):
        example = dict(zip(("text", "pair"), example, strict=True))
    body = json.dumps({"instances": [example]}, ensure_ascii=False)
    print("serve it with TensorFlow Serving (Docker):")
    print(f"  {DOCKER_LINE.format(root=root, name=name)}")
    print(f"  {CURL_LINE.format(body=shlex.quote(body), name=name)}")


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        return json.load(handle)
