"""The files a platform's grader needs at grading time, wherever the platform puts them."""

from __future__ import annotations

from pathlib import Path

from ..paths import GRADING_REQUIREMENTS, RELEASE_NOTEBOOK, ROOT

PACKAGES = ("autograder", "helpers")
SKIPPED = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints")


def grader_files() -> dict[str, Path]:
    """Relative name -> file here: the grading requirements, both packages, and the release notebook
    (whose locked cells the grader runs instead of the submission's copies); no solutions, no tests."""
    files = {GRADING_REQUIREMENTS.name: GRADING_REQUIREMENTS}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and not set(path.relative_to(ROOT).parts) & set(SKIPPED) and path.suffix != ".pyc":
                files[path.relative_to(ROOT).as_posix()] = path
    files[RELEASE_NOTEBOOK.relative_to(ROOT).as_posix()] = RELEASE_NOTEBOOK
    return files
