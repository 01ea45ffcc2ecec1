"""Submissions made from the assignment's own notebooks for the grader's tests, and what those tests
share: the results schema, unpacking a bundle as its platform does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
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


VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")


def check_gradescope_schema(results: dict) -> None:
    """results.json against Gradescope's documented autograder results format, and the grader's own sums."""
    assert set(results) >= {"score", "output", "tests"}
    assert isinstance(results["score"], (int, float))
    assert isinstance(results.get("execution_time", 0), (int, float))
    assert isinstance(results["output"], str) and results.get("output_format", "text") in OUTPUT_FORMATS
    for key in ("visibility", "stdout_visibility"):
        assert results.get(key, "visible") in VISIBILITIES
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES and test.get("output_format", "text") in OUTPUT_FORMATS
        assert test["status"] in ("passed", "failed")
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
    assert results["score"] == sum(t["score"] for t in results["tests"])
    if results["tests"]:   # graded: every check, 100 points in all
        assert sum(t["max_score"] for t in results["tests"]) == 100


PRAIRIELEARN_RESULTS_BYTES = 1024**2   # PrairieLearn discards a larger results.json


def check_prairielearn_results(path: Path) -> dict:
    """results.json against PrairieLearn's documented external-grader fields and types."""
    assert path.stat().st_size <= PRAIRIELEARN_RESULTS_BYTES
    results = json.loads(path.read_text())
    assert isinstance(results.get("gradable", True), bool)
    if results.get("gradable") is False:
        errors = results["format_errors"]
        errors = [errors] if isinstance(errors, str) else errors
        assert errors and all(isinstance(e, str) and e for e in errors)
        return results
    assert isinstance(results["score"], (int, float)) and 0 <= results["score"] <= 1
    assert isinstance(results["message"], str) and isinstance(results["output"], str)
    for test in results["tests"]:
        assert {"name", "description", "points", "max_points", "message", "output"} <= set(test)
        assert all(isinstance(test[key], str) for key in ("name", "description", "message", "output"))
        assert isinstance(test["points"], (int, float)) and isinstance(test["max_points"], (int, float))
        assert 0 <= test["points"] <= test["max_points"]
    for image in results.get("images", []):
        assert isinstance(image["label"], str) and image["url"].startswith("data:image/")
    earned, possible = (sum(t[key] for t in results["tests"]) for key in ("points", "max_points"))
    assert possible == 100 and abs(results["score"] - earned / possible) < 1e-9
    return results


def unpack(bundle: Path, folder: Path) -> None:
    """Unzip as Gradescope does, keeping the executable bits."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, folder))
            if info.external_attr >> 16:
                path.chmod(info.external_attr >> 16 & 0o777)


def kill_the_grader(entry: subprocess.Popen) -> None:
    """SIGKILL the grader an entry point script started, a second into its start, as a container's memory
    limit would."""
    deadline = time.monotonic() + 60
    while not (children := _children(entry.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children, "the entry point started no grader"
    time.sleep(1)
    os.kill(children[0], signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found
