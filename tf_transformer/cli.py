"""The `tf-transformer` command. Subcommands arrive with the recipes that implement them.

Errors a user can cause are `InputError`s: printed on one line, exit code 2, no traceback.
"""

import argparse
import sys

from tf_transformer import __version__
from tf_transformer.errors import InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tf-transformer",
        description="Train, evaluate and export Transformers with Keras 3 and TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv=None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
