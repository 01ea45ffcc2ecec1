"""The ``batch`` command: grade a course folder, write results, CSV, class report, gradebook entries and
feedback, and say where each went."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from ..failures import LOG_NAME
from ..feedback import render_feedback
from ..results import write_text_atomically
from ..sandbox.isolation import choose_mode
from .class_report import render_class_report
from .discover import find_submissions, remove_stale_temporaries
from .gradebook import record_scores
from .grades_csv import write_grades_csv
from .run import Outcome, grade_all, progress_bar


def write_feedback(outcome: Outcome, assignment: str, hints: str) -> None:
    if outcome.results is None:
        return
    write_text_atomically(outcome.submission.feedback / "autograder.html",
                          render_feedback(outcome.submission.student, assignment, outcome.results, hints))


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def errors_line(log: Path, size_before: int) -> str:
    """Where this run's grader errors are; the log the grading processes opened is removed when it
    is empty (a run without errors leaves none)."""
    if log.is_file() and _size(log) == 0:
        log.unlink()
    if _size(log) > size_before:
        return f"  grader errors:   {log}"
    return "  grader errors:   none in this run" + (f" ({log} holds earlier ones)" if log.is_file() else "")


def where_it_went(course: Path, assignment: str, csv_path: Path, report: Path, errors: str, recorded: int) -> list[str]:
    """The summary's lines naming every place the batch wrote to."""
    lines = [f"  grades (CSV):    {csv_path}",
             f"  class report:    {report}",
             f"  results:         {course / 'autograded'}/<student>/{assignment}/results.json",
             f"  feedback pages:  {course / 'feedback'}/<student>/{assignment}/autograder.html",
             f"  gradebook:       {course / 'gradebook.db'} ({recorded} recorded)"]
    return [*lines, errors]


def batch(course: Path, assignment: str, jobs: int, csv_path: Path | None, force: bool, isolation: str = "auto",
          hints: str = "full") -> int:
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
        write_feedback(outcome, assignment, hints)
        advance(outcome)

    choose_mode(isolation)  # fail now, with the reason, rather than once per submission
    log_size = _size(course / LOG_NAME)
    outcomes = grade_all(submissions, jobs, force, done, isolation, log_folder=course)
    csv_path = csv_path or course / f"{assignment}_grades.csv"
    write_grades_csv(csv_path, outcomes)
    report = csv_path.parent / f"{assignment}_class_report.html"
    write_text_atomically(report, render_class_report(assignment, outcomes))
    recorded = record_scores(f"sqlite:///{(course / 'gradebook.db').resolve()}", assignment, assignment, outcomes)
    graded = [o.results for o in outcomes if o.results is not None]
    failed = [o for o in outcomes if o.results is None]
    mean = statistics.mean(results["score"] for results in graded) if graded else 0.0
    skipped = sum(o.skipped for o in outcomes)
    print(f"graded {len(graded)} ({skipped} from an earlier run), failed to grade {len(failed)}, "
          f"mean score {mean:.1f}; {recorded} recorded in the gradebook")
    print("\n".join(where_it_went(course, assignment, csv_path, report, errors_line(course / LOG_NAME, log_size),
                                  recorded)))
    for outcome in failed:
        print(f"  not graded: {outcome.submission.student}: {outcome.error}")
    return 1 if failed else 0
