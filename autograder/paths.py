"""Where the project's parts are, known in one place: the grader, the harness, the student-facing
helpers and the assignment's notebooks. A leaf module: it imports nothing of the project, so every
layer (the sandbox included) may use it."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent          # autograder/
ROOT = PACKAGE.parent                              # the repository, which is also the nbgrader course folder
HELPERS = ROOT / "helpers"                         # the module the notebook imports (bound into the sandbox)
HARNESS = PACKAGE / "sandbox" / "harness"          # what runs inside the sandbox
CHECKS = PACKAGE / "checks"                        # the hidden pytest checks
ASSIGNMENT = "cnn"
RELEASE_NOTEBOOK = ROOT / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"   # given cells are taken from here
SOURCE_NOTEBOOK = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"     # the instructor's solution
GRADING_REQUIREMENTS = ROOT / "requirements-grading.txt"
