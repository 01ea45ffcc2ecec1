"""Recording autograded scores in nbgrader's gradebook, so ``nbgrader export`` and the formgrader see them.

Each hidden check becomes a grade cell ``hidden-<n>`` of the assignment's notebook; a student's score
for it is stored as the *automatic* score. A manual score an instructor entered stays in place (nbgrader
uses the manual score whenever there is one).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator

from nbgrader.api import Grade, Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning

from .run import Outcome


def grade_cell_name(check_name: str) -> str:
    return "hidden-" + re.sub(r"[^a-z0-9]+", "-", check_name.lower()).strip("-")[:80]


@contextlib.contextmanager
def _tools_of_this_python() -> Iterator[None]:
    """nbgrader runs the ``alembic`` command: find it beside this interpreter, even when the venv is not
    activated (``.venv/bin/python -m autograder batch ...``)."""
    saved = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), saved])
    try:
        yield
    finally:
        os.environ["PATH"] = saved


def record_scores(db_url: str, assignment: str, notebook: str, outcomes: list[Outcome]) -> int:
    """Store every graded outcome's check scores; returns how many students were recorded."""
    graded = [(o.submission.student, o.results) for o in outcomes if o.results is not None]
    if not graded:
        return 0
    with _tools_of_this_python(), Gradebook(db_url) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # raised inside nbgrader's add_submission, harmless
        gradebook.update_or_create_assignment(assignment)
        gradebook.update_or_create_notebook(notebook, assignment)
        _, first = graded[0]
        for test in first["tests"]:
            gradebook.update_or_create_grade_cell(grade_cell_name(test["name"]), notebook, assignment,
                                                  max_score=test["max_score"], cell_type="code")
        for student, results in graded:
            gradebook.update_or_create_student(student)
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                submission = gradebook.add_submission(assignment, student)
            submitted_notebook = next(nb for nb in submission.notebooks if nb.name == notebook)
            for test in results["tests"]:
                cell = gradebook.find_grade_cell(grade_cell_name(test["name"]), notebook, assignment)
                try:
                    grade = gradebook.find_grade(cell.name, notebook, assignment, student)
                except MissingEntry:  # the check was added after this submission was first recorded
                    grade = Grade(cell_id=cell.id, notebook=submitted_notebook)
                    gradebook.db.add(grade)
                grade.auto_score = test["score"]
            gradebook.db.commit()
    return len(graded)
