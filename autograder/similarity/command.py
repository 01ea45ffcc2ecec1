"""The ``similarity`` command: read a course folder's submissions, score every pair, write the page and the CSV."""

from __future__ import annotations

import sys
from pathlib import Path

from ..results import write_text_atomically
from ..submission import SubmissionError, read_answers
from .answers import class_answers, release_notebook
from .fingerprints import fingerprint
from .page import NOT_A_VERDICT, render_page
from .pairs import Review, common_limit, score_pairs
from .scores_csv import write_scores_csv
from .tokens import lex


def _fail(message: str) -> int:
    print(f"autograder: {message}", file=sys.stderr)
    return 2


def similarity(course: Path, assignment: str, out: Path | None, top: int, review: Review) -> int:
    """Exit status 0 when a report was written (unreadable notebooks are listed as skipped), 2 when none
    could be: no course folder, no release notebook, or not one readable submission."""
    if not (course / "submitted").is_dir():
        return _fail(f"{course} has no submitted/ folder (nbgrader's layout: submitted/<student>/{assignment}/)")
    release_path = release_notebook(course, assignment)
    try:
        given = read_answers(release_path)
        release = [lex(grade_id, given.text(grade_id)) for grade_id in given]
    except (SubmissionError, OSError) as error:
        return _fail(f"cannot read the release notebook {release_path}: {error}")
    answers, skipped = class_answers(course, assignment, [cell.grade_id for cell in release])
    for bad in skipped:
        print(f"skipped {bad.student}: {bad.reason}")
    if not answers:
        return _fail(f"no readable submissions of {assignment} in {course / 'submitted'}")
    prints = [fingerprint(student, cells, release) for student, cells in answers.items()]
    pairs, common = score_pairs(prints, common_limit(len(prints)), review)
    out = out or course / "similarity"
    page, table = out / f"{assignment}_similarity.html", out / f"{assignment}_similarity.csv"
    try:
        write_text_atomically(page, render_page(assignment, pairs[:top], review, len(prints), skipped, common))
        write_scores_csv(table, pairs, review)
    except OSError as error:
        return _fail(f"cannot write the report: {error}")
    flagged = [pair for pair in pairs if pair.to_review(review)]
    print(f"compared {len(prints)} submissions ({len(skipped)} skipped); {len(pairs)} pairs share code, "
          f"{len(flagged)} at or above the review threshold")
    for pair in flagged[:top]:
        print(f"  {pair.similarity:4.0%}  {pair.a.student} and {pair.b.student} "
              f"({pair.matched_tokens} matching tokens)")
    print(NOT_A_VERDICT)
    print(f"wrote {page} and {table}")
    return 0
