"""Submissions made from the assignment's own notebooks for the grader's tests, and what those tests
share: the results schema, unpacking a bundle as its platform does."""

from __future__ import annotations

import zipfile
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


def check_gradescope_schema(results: dict) -> None:
    assert set(results) >= {"score", "execution_time", "output", "tests"}
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert sum(t["max_score"] for t in results["tests"]) == 100


def unpack(bundle: Path, folder: Path) -> None:
    """Unzip as Gradescope does, keeping the executable bits."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, folder))
            if info.external_attr >> 16:
                path.chmod(info.external_attr >> 16 & 0o777)
