"""Command line.

    python -m autograder grade SUBMISSION.ipynb [--json RESULTS.json] [--isolation MODE | --no-isolation]
    python -m autograder batch COURSE_DIR [--assignment cnn] [--jobs N] [--csv grades.csv] [--force]
                                          [--hints LEVEL] [--isolation MODE | --no-isolation]
    python -m autograder gradescope OUT_DIR [--visibility V] [--stdout-visibility V]
                                            [--max-submissions N [--per-hours H]] [--hints LEVEL]
    python -m autograder prairielearn OUT_DIR [--image NAME] [--timeout SECONDS]
    python -m autograder similarity COURSE_DIR [--assignment cnn] [--out DIR] [--top N] [--threshold S]
                                               [--min-tokens T]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .engine import grade
from .failures import report
from .gradescope.config import VISIBILITIES, BundleConfig, ConfigError
from .hints import HINT_LEVELS
from .prairielearn.question import DEFAULT_IMAGE, DEFAULT_TIMEOUT, QuestionError, write_question
from .results import write_json_atomically
from .sandbox.isolation import MODES, Mode
from .similarity.pairs import Review


def _isolation_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--isolation", choices=("auto", *MODES), default="auto",
                       help="how to confine the student's code (default: the strongest available)")
    group.add_argument("--no-isolation", dest="isolation", action="store_const", const=Mode.NONE.value,
                       help="run the student's code unconfined, as your own user (debugging only)")


def isolation_of(args: argparse.Namespace) -> str:
    """The requested mode, with a warning when it is no isolation at all."""
    if args.isolation == Mode.NONE:
        print("autograder: WARNING: grading without isolation: the submission's code runs as your user, "
              "with your files and network", file=sys.stderr)
    return args.isolation


def _hints_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hints", choices=HINT_LEVELS, default="full",
                        help="what a lost check's hint shows students: the full hint (default), a pointer to the "
                             "notebook's step ('step'), or nothing ('none')")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade the MNIST/PyTorch assignment.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("grade", help="grade one submitted notebook")
    one.add_argument("submission", type=Path, help="the student's cnn.ipynb")
    one.add_argument("--json", type=Path, metavar="RESULTS.json", help="also write Gradescope's results.json here")
    _isolation_options(one)
    many = commands.add_parser("batch", help="grade every submission of an nbgrader course folder")
    many.add_argument("course", type=Path, help="the course folder (with submitted/<student>/<assignment>/)")
    many.add_argument("--assignment", default="cnn")
    many.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time")
    many.add_argument("--csv", type=Path, help="the class CSV (default: COURSE/<assignment>_grades.csv)")
    many.add_argument("--force", action="store_true", help="grade again what an earlier run graded")
    _hints_option(many)
    _isolation_options(many)
    bundle = commands.add_parser("gradescope", help="build the autograder.zip to upload to Gradescope")
    bundle.add_argument("out_dir", type=Path, help="where to write autograder.zip")
    bundle.add_argument("--visibility", choices=VISIBILITIES, default="visible",
                        help="when students see each check's points and reason (default: visible)")
    bundle.add_argument("--stdout-visibility", choices=VISIBILITIES, default="hidden",
                        help="when students see the grader's printed output, the full table (default: hidden)")
    bundle.add_argument("--max-submissions", type=int, metavar="N",
                        help="grade at most N submissions per student in any --per-hours hours (default: no limit)")
    bundle.add_argument("--per-hours", type=float, metavar="H", help="the limit's period in hours (default: 24)")
    _hints_option(bundle)
    question = commands.add_parser("prairielearn", help="write a PrairieLearn question folder with its grader")
    question.add_argument("out_dir", type=Path, help="the question folder to write (e.g. COURSE/questions/cnn)")
    question.add_argument("--image", default=DEFAULT_IMAGE,
                          help=f"the grader image's name as pushed to Docker Hub, USER/NAME (default: {DEFAULT_IMAGE}, "
                               "which no registry accepts a push of: give your own)")
    question.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                          help=f"seconds before PrairieLearn stops a grading (default: {DEFAULT_TIMEOUT}, at most 600)")
    alike = commands.add_parser("similarity", help="list the pairs of submissions whose answers are most alike")
    alike.add_argument("course", type=Path, help="the course folder (with submitted/<student>/<assignment>/)")
    alike.add_argument("--assignment", default="cnn")
    alike.add_argument("--out", type=Path, help="folder for the HTML page and the CSV (default: COURSE/similarity)")
    alike.add_argument("--top", type=int, default=20, help="pairs shown on the page (default: 20)")
    alike.add_argument("--threshold", type=float, default=Review.threshold,
                       help=f"similarity from which a pair is to review, 0 to 1 (default: {Review.threshold})")
    alike.add_argument("--min-tokens", type=int, default=Review.min_tokens,
                       help=f"matching code a pair to review needs, in tokens (default: {Review.min_tokens})")
    return parser


def grade_command(args: argparse.Namespace) -> int:
    verdict = grade(args.submission, isolation=isolation_of(args))
    print(verdict.table())
    if args.json:
        write_json_atomically(args.json, verdict.gradescope())
    return 0


def batch_command(args: argparse.Namespace) -> int:
    from .batch.command import batch  # nbgrader's gradebook is only needed here: keep `grade` quick to start

    if args.jobs < 1:
        print("autograder: --jobs must be at least 1", file=sys.stderr)
        return 2
    return batch(args.course, args.assignment, args.jobs, args.csv, args.force, isolation_of(args), args.hints)


def gradescope_command(args: argparse.Namespace) -> int:
    from .gradescope.bundle import build_bundle

    if args.per_hours is not None and args.max_submissions is None:
        raise ConfigError("--per-hours needs --max-submissions")
    config = BundleConfig(args.visibility, args.stdout_visibility, args.max_submissions,
                          24.0 if args.per_hours is None else args.per_hours, args.hints)
    target = build_bundle(args.out_dir, config)
    print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KB)")
    print("Upload it as the autograder of a Gradescope programming assignment (base image: Ubuntu 22.04 or newer);")
    print("students submit their cnn.ipynb. The README's Gradescope section gives the container size it needs.")
    return 0


def similarity_command(args: argparse.Namespace) -> int:
    from .similarity.command import similarity

    if args.top < 1 or not 0 < args.threshold <= 1 or args.min_tokens < 0:
        print("autograder: --top must be at least 1, --threshold in (0, 1], --min-tokens at least 0", file=sys.stderr)
        return 2
    return similarity(args.course, args.assignment, args.out, args.top, Review(args.threshold, args.min_tokens))


def prairielearn_command(args: argparse.Namespace) -> int:
    folder = write_question(args.out_dir, args.image, args.timeout)
    print(f"wrote the PrairieLearn question {folder}: copy it into your course's questions/ folder.")
    if "/" in args.image:
        print(f"Build and push its grader image: docker build -t {args.image} {folder} && docker push {args.image}")
    else:  # Docker Hub refuses a push without a user or organisation
        image = f"YOUR_DOCKERHUB_USER/{args.image}"
        print(f"Its info.json names the image {args.image!r}, which no registry takes a push of: write it again with "
              f"--image {image} (your Docker Hub user or organisation), then build and push that image:")
        print(f"  docker build -t {image} {folder} && docker push {image}")
    return 0


COMMANDS = {"grade": grade_command, "batch": batch_command, "gradescope": gradescope_command,
            "similarity": similarity_command, "prairielearn": prairielearn_command}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("\nautograder: interrupted; run the same command again to go on where it stopped", file=sys.stderr)
        return 130
    except (ConfigError, QuestionError) as error:
        print(f"autograder: {error}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - any failure: one line here, a traceback (if any) in a log
        print(f"autograder: {report(error, Path.cwd())}", file=sys.stderr)
    return 2
