"""One CSV for the class: a row per student with the points of every check and the total."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..results import write_text_atomically
from .run import Outcome


def write_grades_csv(path: Path, outcomes: list[Outcome]) -> None:
    """Columns: student, status, one per check (in grading order), total. Written atomically."""
    names: list[str] = []
    for outcome in outcomes:
        for test in (outcome.results or {}).get("tests", []):
            if test["name"] not in names:
                names.append(test["name"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "status", *names, "total"])
    for outcome in outcomes:
        if outcome.results is None:
            writer.writerow([outcome.submission.student, f"not graded: {outcome.error}", *[""] * len(names), ""])
            continue
        scores = {t["name"]: t["score"] for t in outcome.results["tests"]}
        writer.writerow([outcome.submission.student, "graded", *[f"{scores.get(n, 0):g}" for n in names],
                         f"{outcome.results['score']:g}"])
    write_text_atomically(path, buffer.getvalue())
