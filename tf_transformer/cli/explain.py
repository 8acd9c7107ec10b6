"""`tf-transformer <family> explain RUN TEXT`: one offline HTML page that shows the run's
model reading a text, stage by stage (`tf_transformer.explain`)."""

import os
import re
import shlex

from tf_transformer.cli.common import positive_int, run_examples
from tf_transformer.errors import InputError

MARKER = '<meta name="generator" content="tf-transformer explain">'  # on every page written


def add_explain_command(commands, handler, what):
    """`<family> explain RUN_DIR TEXT [--seq-len] [--out]`; returns the parser for the
    family's own options."""
    explain = commands.add_parser(
        "explain",
        help=f"write one HTML page that shows {what} reading a text (opens offline)",
    )
    explain.add_argument("run_dir")
    explain.add_argument("text")
    explain.add_argument(
        "--seq-len",
        type=positive_int,
        help="cut the text to this many tokens as the model would (default: none; a text "
        "longer than the model reads is an error)",
    )
    explain.add_argument("--out", help="the page to write (default: RUN_DIR/explain-<text>.html)")
    explain.set_defaults(handler=handler)
    return explain


def page_path(args) -> str:
    """Where the page goes, checked before any work: a new file, or a page this command
    wrote before (rewritten), in a directory that exists and can be written."""
    slug = re.sub(r"\W+", "-", args.text.lower()).strip("-")[:40] or "text"
    path = args.out or os.path.join(args.run_dir, f"explain-{slug}.html")
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"--out {path} is a directory; give a file name")
    if not os.path.isdir(directory):
        if args.out is None:
            return path  # the run directory is missing: loading the run says so
        raise InputError(f"--out {path}: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise InputError(f"--out {path}: {directory} cannot be written")
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as handle:
            if MARKER not in handle.read(2048):
                raise InputError(f"{path} exists and is not an explain page; choose another --out")
    return path


def explain(args, recipe, family, trace, **inputs):
    """Loads the run with its recipe, traces `args.text` through its model and writes the
    page; prints where, its size and the check of its numbers."""
    from pipelines.runs import check_run
    from tf_transformer.explain import write_page

    path = page_path(args)
    if not args.text.strip():
        raise InputError("the text to explain is empty")
    config = check_run(args.run_dir, family)
    runner, _ = recipe.load_run(args.run_dir)
    traced = trace(
        runner, args.text, run_dir=args.run_dir, config=config, seq_len=args.seq_len, **inputs
    )
    write_page(traced, path)
    check = traced["check"]
    verdict = "passed" if check["passed"] else "FAILED"
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB): open it in a browser")
    print(
        f"check {verdict}: {check['compared']}: largest difference "
        f"{check['difference']:.2e} (tolerance {check['tolerance']})"
    )
    return 0 if check["passed"] else 1


def print_explain_hint(command, run_dir):
    """After training: the command that shows the run's model reading one of its own
    texts (the run's recorded examples; nothing for a run that recorded none)."""
    examples = [e for e in run_examples(run_dir) if e and (isinstance(e, list) or e.strip())]
    if not examples:
        return
    example = examples[0]
    if isinstance(example, list | tuple):  # a pair
        text = f"{shlex.quote(example[0])} --pair {shlex.quote(example[1])}"
    else:
        text = shlex.quote(example)
    print("see inside it (one offline HTML page):")
    print(f"  tf-transformer {command} explain {shlex.quote(run_dir)} {text}")
