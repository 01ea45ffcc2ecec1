"""nbgrader settings for the course; the repository root is the course folder.

``nbgrader generate_assignment cnn`` (run from here) turns ``source/cnn`` into the student version in
``release/cnn``: solutions stripped, explanatory cells locked, and ``helpers`` linked beside the notebook
(as ``source/cnn/helpers`` is). Copies of the folder follow the link: ``nbgrader release_assignment``,
``zip -r`` and ``cp -rL`` all ship the helpers' files to students.
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


def link_helpers(assignment: str, student: str, notebooks: list) -> None:
    """Put the ``helpers`` package next to the released notebook that imports it (nbgrader skips the
    linked folder in ``source/cnn`` when it copies files), as a relative link to the one real copy."""
    target = COURSE_ROOT / "release" / assignment / "helpers"
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    target.symlink_to(Path("..", "..", "helpers"), target_is_directory=True)


c.GenerateAssignment.post_convert_hook = link_helpers
