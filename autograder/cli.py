"""Command line: ``python -m autograder grade SUBMISSION.ipynb [--json RESULTS.json]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine import grade
from .results import write_json_atomically


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade the MNIST/PyTorch assignment.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("grade", help="grade one submitted notebook")
    one.add_argument("submission", type=Path, help="the student's cnn.ipynb")
    one.add_argument("--json", type=Path, metavar="RESULTS.json", help="also write Gradescope's results.json here")
    return parser


def grade_command(args: argparse.Namespace) -> int:
    verdict = grade(args.submission)
    print(verdict.table())
    if args.json:
        write_json_atomically(args.json, verdict.gradescope())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return grade_command(args)
    except KeyboardInterrupt:
        print("autograder: interrupted", file=sys.stderr)
    except (OSError, RuntimeError) as error:  # MNISTNotFoundError is a RuntimeError
        print(f"autograder: cannot grade: {error}", file=sys.stderr)
    return 2
