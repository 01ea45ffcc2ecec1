"""nbgrader settings for the course; the repository root is the course folder.

``nbgrader generate_assignment cnn`` (run from here) turns ``source/cnn`` into the student version in
``release/cnn``: solutions stripped, explanatory cells locked, the ``helpers`` package copied beside the
notebook so that the release folder is self-contained.
"""

import shutil
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.course_id = "mnist-pytorch"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Training a network on a CPU takes minutes: give every executed cell up to half an hour.
c.ExecutePreprocessor.timeout = 1800


def ship_helpers(assignment: str, student: str, notebooks: list) -> None:
    """Copy the ``helpers`` package into the generated release, next to the notebook that imports it."""
    target = COURSE_ROOT / "release" / assignment / "helpers"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(COURSE_ROOT / "helpers", target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


c.GenerateAssignment.post_convert_hook = ship_helpers
