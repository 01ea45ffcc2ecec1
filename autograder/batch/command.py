"""The ``batch`` command: grade a course folder, write results, CSV, gradebook entries and feedback."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from ..feedback import render_feedback
from ..results import write_text_atomically
from ..sandbox.isolation import choose_mode
from .discover import find_submissions, remove_stale_temporaries
from .gradebook import record_scores
from .grades_csv import write_grades_csv
from .run import Outcome, grade_all, progress_bar


def write_feedback(outcome: Outcome, assignment: str) -> None:
    if outcome.results is None:
        return
    write_text_atomically(outcome.submission.feedback / "autograder.html",
                          render_feedback(outcome.submission.student, assignment, outcome.results))


def batch(course: Path, assignment: str, jobs: int, csv_path: Path | None, force: bool, isolation: str = "auto") -> int:
    """Grade every submission; exit status 0 when each got a verdict, 1 when some could not be graded."""
    if not (course / "submitted").is_dir():
        print(f"autograder: {course} has no submitted/ folder (nbgrader's layout: submitted/<student>/{assignment}/)",
              file=sys.stderr)
        return 2
    submissions = [s for s in find_submissions(course, assignment) if s.notebook.is_file()]
    if not submissions:
        print(f"autograder: no submissions of {assignment} in {course / 'submitted'}", file=sys.stderr)
        return 2
    remove_stale_temporaries(course, assignment)
    advance = progress_bar(len(submissions))

    def done(outcome: Outcome) -> None:
        write_feedback(outcome, assignment)
        advance(outcome)

    choose_mode(isolation)  # fail now, with the reason, rather than once per submission
    outcomes = grade_all(submissions, jobs, force, done, isolation, log_folder=course)
    write_grades_csv(csv_path or course / f"{assignment}_grades.csv", outcomes)
    recorded = record_scores(f"sqlite:///{(course / 'gradebook.db').resolve()}", assignment, assignment, outcomes)
    graded = [o.results for o in outcomes if o.results is not None]
    failed = [o for o in outcomes if o.results is None]
    mean = statistics.mean(results["score"] for results in graded) if graded else 0.0
    skipped = sum(o.skipped for o in outcomes)
    print(f"graded {len(graded)} ({skipped} from an earlier run), failed to grade {len(failed)}, "
          f"mean score {mean:.1f}; {recorded} recorded in the gradebook")
    for outcome in failed:
        print(f"  not graded: {outcome.submission.student}: {outcome.error}")
    return 1 if failed else 0
