"""The `tf-transformer` command: one module a family (`translate`, `gpt`, `bert`), plus
`plot` and `serving`.

Errors a user can cause are `InputError`s: printed on one line, exit code 2, no traceback.
Heavy imports (TensorFlow) happen inside the handlers, so `--help` and `--version` are quick.
"""

import argparse
import json
import os
import sys

from tf_transformer import __version__
from tf_transformer.cli import bert, gpt, plot, serving, translate
from tf_transformer.cli.common import config_from, duration
from tf_transformer.errors import InputError

__all__ = ["build_parser", "config_from", "duration", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-transformer",
        description="Train, evaluate and export Transformers with Keras 3 and TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="keep TensorFlow's C++ INFO lines, CUDA probing and sentencepiece's log lines",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    for family in (translate, gpt, bert, plot, serving):
        family.add_commands(commands)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ info lines
        if argv is None:  # the console script (not a test calling main): filter fd 2
            from tf_transformer.native_logs import filter_native_logs

            filter_native_logs()
    if args.command is None:
        parser.print_help()
        return 0
    if _computes_in_bfloat16(args):  # before TensorFlow is imported
        from tf_transformer.cpu import bfloat16_without_onednn

        bfloat16_without_onednn()
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


def _computes_in_bfloat16(args) -> bool:
    """Whether the command trains with `--mixed-precision bf16` or loads a run that was."""
    if getattr(args, "mixed_precision", None) == "bf16":
        return True
    path = os.path.join(getattr(args, "run_dir", None) or "", "config.json")
    try:
        with open(path) as handle:
            precision = json.load(handle).get("precision") or {}
    except (OSError, ValueError):
        return False
    return isinstance(precision, dict) and precision.get("policy") == "mixed_bfloat16"


if __name__ == "__main__":
    sys.exit(main())
