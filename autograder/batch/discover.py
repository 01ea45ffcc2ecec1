"""Finding the submissions of an nbgrader course folder and where each one's results go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: Path          # submitted/<student>/<assignment>/<assignment>.ipynb
    results: Path           # autograded/<student>/<assignment>/results.json
    feedback: Path          # feedback/<student>/<assignment>/

    def is_graded(self) -> bool:
        """Graded already, and not resubmitted since."""
        return self.results.is_file() and self.results.stat().st_mtime >= self.notebook.stat().st_mtime


def find_submissions(course: Path, assignment: str) -> list[Submission]:
    """Every ``submitted/<student>/<assignment>/<assignment>.ipynb``, sorted by student id."""
    found = []
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        student = folder.parent.name
        if student.startswith("."):
            continue
        found.append(Submission(
            student=student,
            notebook=folder / f"{assignment}.ipynb",
            results=course / "autograded" / student / assignment / "results.json",
            feedback=course / "feedback" / student / assignment,
        ))
    return found


def remove_stale_temporaries(course: Path, assignment: str) -> None:
    """Half-written files of an interrupted run (results are written to a temporary file, then renamed)."""
    for stale in (course / "autograded").glob(f"*/{assignment}/.results.json.*.tmp"):
        stale.unlink(missing_ok=True)
