"""Finding the submissions of an nbgrader course folder and where each one's results go."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..version import file_sha256, grader_version


@dataclass(frozen=True)
class Submission:
    student: str
    notebook: Path          # submitted/<student>/<assignment>/<assignment>.ipynb
    results: Path           # autograded/<student>/<assignment>/results.json
    feedback: Path          # feedback/<student>/<assignment>/

    def earlier_results(self) -> dict | None:
        """The results of an earlier run, if they are of exactly this notebook (its SHA-256) and this
        grader (its version): never judged by file times, which anyone can set."""
        try:
            results = json.loads(self.results.read_text())
            provenance = results["extra_data"]["provenance"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(provenance, dict) or provenance.get("grader_version") != grader_version():
            return None
        if provenance.get("notebook_sha256") != file_sha256(self.notebook):
            return None
        return results


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
