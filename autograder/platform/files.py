"""The files a platform's grader needs at grading time, wherever the platform puts them."""

from __future__ import annotations

from pathlib import Path

from ..paths import GRADING_REQUIREMENTS, RELEASE_NOTEBOOK, ROOT

PACKAGES = ("autograder", "helpers")
SKIPPED = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints")
PLATFORMS = ("gradescope", "prairielearn")
# What only an instructor's own machine runs: the command line and the commands of a whole class.
LOCAL_ONLY = ("autograder/cli.py", "autograder/__main__.py", "autograder/batch", "autograder/similarity")


def grader_files(platform: str) -> dict[str, Path]:
    """Relative name -> file here: the grading requirements, both packages less what only runs locally
    or on the other platform, and the release notebook (whose locked cells the grader runs instead of the
    submission's copies); no solutions, no tests."""
    left_out = (*LOCAL_ONLY, *(f"autograder/{other}" for other in PLATFORMS if other != platform))
    files = {GRADING_REQUIREMENTS.name: GRADING_REQUIREMENTS}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            name = path.relative_to(ROOT).as_posix()
            if (path.is_file() and not set(path.relative_to(ROOT).parts) & set(SKIPPED) and path.suffix != ".pyc"
                    and not any(name == out or name.startswith(out + "/") for out in left_out)):
                files[name] = path
    files[RELEASE_NOTEBOOK.relative_to(ROOT).as_posix()] = RELEASE_NOTEBOOK
    return files
