"""Instructor's release job: regenerate ``release/cnn`` from ``source/cnn`` and validate the solution.

Validation executes the source notebook in a fresh kernel (a few minutes of training on a CPU) and
checks with nbgrader's Validator that every visible test cell passes. Exits non-zero when either step
fails, unlike ``nbgrader validate``, whose exit status does not reflect the result.

    python scripts/release.py [--skip-validation]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from nbgrader.validator import Validator

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "cnn"


def generate_release() -> None:
    """Run ``nbgrader generate_assignment`` with this environment's ``bin`` on PATH (nbgrader calls alembic)."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
        cwd=ROOT, env=env, check=True,
    )


def validate_solution() -> dict:
    """Execute the source notebook and return the Validator's findings (empty when all tests pass)."""
    return Validator().validate(str(ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-validation", action="store_true", help="only regenerate the release")
    args = parser.parse_args()
    try:
        generate_release()
    except subprocess.CalledProcessError as error:
        print(f"release: nbgrader generate_assignment failed (exit {error.returncode})", file=sys.stderr)
        return 1
    print(f"release: wrote {ROOT / 'release' / ASSIGNMENT}")
    if args.skip_validation:
        return 0
    print("release: executing the solution notebook to validate it (a few minutes)...")
    findings = validate_solution()
    if findings:
        for kind, cells in findings.items():
            print(f"release: {len(cells)} cell(s) {kind}:", file=sys.stderr)
            for cell in cells:
                print("    " + cell.get("source", "").splitlines()[0], file=sys.stderr)
        return 1
    print("release: the solution passes every visible test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
