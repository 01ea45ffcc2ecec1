"""One CSV for the class: a row per student with the points of every check and the total."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..results import write_text_atomically
from .run import Outcome


def write_grades_csv(path: Path, outcomes: list[Outcome]) -> None:
    """Columns: student, status, one per check (in grading order), total, and the wall time of the
    grading in seconds (empty for results kept from an earlier run). Written atomically."""
    names: list[str] = []
    for outcome in outcomes:
        for test in (outcome.results or {}).get("tests", []):
            if test["name"] not in names:
                names.append(test["name"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "status", *names, "total", "seconds"])
    for outcome in outcomes:
        if outcome.results is None:
            writer.writerow([outcome.submission.student, f"not graded: {outcome.error}", *[""] * len(names), "",
                             f"{outcome.seconds:.1f}"])
            continue
        scores = {t["name"]: t["score"] for t in outcome.results["tests"]}
        status = "graded earlier" if outcome.skipped else "graded"
        writer.writerow([outcome.submission.student, status, *[f"{scores.get(n, 0):g}" for n in names],
                         f"{outcome.results['score']:g}", "" if outcome.skipped else f"{outcome.seconds:.1f}"])
    write_text_atomically(path, buffer.getvalue())
