"""The answer cells of the release and of every submission, read the way the grader reads them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..batch.discover import find_submissions
from ..paths import RELEASE_NOTEBOOK
from ..submission import SubmissionError, read_answers


def _valid_text(text: str) -> str:
    """Text that can be written out: a notebook's JSON and a folder's name may hold lone surrogates."""
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class Skipped:
    student: str
    reason: str


def release_notebook(course: Path, assignment: str) -> Path:
    """The notebook students started from: nbgrader keeps it in ``release/<assignment>/`` of the course
    folder; a course folder without one uses this project's own release."""
    in_course = course / "release" / assignment / f"{assignment}.ipynb"
    return in_course if in_course.is_file() else RELEASE_NOTEBOOK


def class_answers(course: Path, assignment: str, order: list[str]) -> tuple[dict[str, dict[str, str]], list[Skipped]]:
    """Each student's answer cells in the release's ``order`` (by grade id), and the students whose file
    could not be read, with the reason. One bad file never stops the others."""
    answers, skipped = {}, []
    for submission in find_submissions(course, assignment):
        student = _valid_text(submission.student)
        try:
            cells = read_answers(submission.notebook)
        except (SubmissionError, OSError) as error:
            skipped.append(Skipped(student, _valid_text(str(error) or type(error).__name__)))
            continue
        answers[student] = {grade_id: _valid_text(cells.text(grade_id)) for grade_id in order if grade_id in cells}
    return answers, skipped
