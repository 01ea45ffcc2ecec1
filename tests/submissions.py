"""Submissions made from the assignment's own notebooks, for the grader's tests."""

from __future__ import annotations

from pathlib import Path

import nbformat

from conftest import RELEASE_DIR, SOURCE_DIR

SOLUTION = SOURCE_DIR / "cnn.ipynb"
RELEASE = RELEASE_DIR / "cnn.ipynb"


def edited(base: Path, folder: Path, name: str, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """Copy ``base`` to ``folder/name.ipynb`` with text replacements in the cells named by grade id.
    Every replacement must apply exactly once, so a test cannot silently grade an unchanged notebook."""
    nb = nbformat.read(base, as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    for grade_id, replacements in edits.items():
        for old, new in replacements:
            assert cells[grade_id].source.count(old) == 1, f"{name}: {old!r} not found once in {grade_id}"
            cells[grade_id].source = cells[grade_id].source.replace(old, new)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path
