"""Time of the class similarity report: a synthetic class of N students (default 300), each answer cell
taken from the solution, one of three honest solutions written in other styles, or left as released,
and every tenth student a disguised copy of the solution, reported with ``python -m autograder similarity``;
a small class is timed in the same run as the baseline.

Prints the seconds of each report, the seconds per 100 students and the report's own summary.

    python scripts/benchmark_similarity.py [--students 300] [--baseline 30]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from classmates import HONEST, SOLUTION, answer_cells, disguised_copy, honest, submit  # noqa: E402


def make_class(course: Path, students: int) -> None:
    """``submitted/<student>/cnn/cnn.ipynb`` for ``students`` students, the same ones for the same count."""
    solution = answer_cells(SOLUTION)
    styles = [solution, *(honest(bodies) for bodies in HONEST.values()), {}]
    copy = disguised_copy(solution)
    choose = random.Random(0)
    for index in range(students):
        if index % 10 == 9:
            cells = copy
        else:
            picks = {grade_id: choose.choice(styles) for grade_id in solution}
            cells = {grade_id: style[grade_id] for grade_id, style in picks.items() if grade_id in style}
        submit(course, f"student{index:03d}", cells)


def report(course: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(course)], cwd=ROOT,
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the report failed with exit status {result.returncode}: {result.stderr.strip()}")
    return seconds, result.stdout.splitlines()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300, help="students in the class to time")
    parser.add_argument("--baseline", type=int, default=30, help="students in the small class timed first")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; every report includes starting Python and reading the notebooks")
    with tempfile.TemporaryDirectory() as scratch:
        for students in (args.baseline, args.students):
            course = Path(scratch) / f"class-{students}"
            make_class(course, students)
            seconds, summary = report(course)
            print(f"{students} students: {seconds:.2f} s, {seconds / students * 100:.2f} s per 100 students "
                  f"({summary})")
    print("target: under 60 s for 300 students")


if __name__ == "__main__":
    main()
