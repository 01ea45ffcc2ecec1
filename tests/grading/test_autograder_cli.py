"""The grading command on the solution, the untouched release and files that are not submissions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT
from submissions import RELEASE, SOLUTION, check_gradescope_schema


def grade(path, *extra, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", "grade", str(path), *extra],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)


def test_solution_gets_full_marks(tmp_path):
    result = grade(SOLUTION, "--json", str(tmp_path / "results.json"))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    check_gradescope_schema(results)
    failed = [(t["name"], t["output"]) for t in results["tests"] if t["status"] == "failed"]
    assert failed == [] and results["score"] == 100
    assert "total" in result.stdout and f"{100}/{100}" in result.stdout
    measured = {t["name"]: t["extra_data"]["measured"] for t in results["tests"] if "measured" in t["extra_data"]}
    assert len(measured) == 3 and all(re.fullmatch(r"0\.\d{3} ≥ 0\.\d\d", m) for m in measured.values())
    assert all(f"  {m}" in result.stdout and f"passed (measured: {m})" in str(results) for m in measured.values())


def test_untouched_release_scores_zero_everywhere(tmp_path):
    result = grade(RELEASE, "--json", str(tmp_path / "results.json"))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    check_gradescope_schema(results)
    assert [t["score"] for t in results["tests"]] == [0] * len(results["tests"])
    assert all(t["output"] for t in results["tests"]), "every lost point needs a reason"
    assert "NotImplementedError" in result.stdout


@pytest.mark.parametrize("name, content, reason", [
    ("truncated.ipynb", lambda: SOLUTION.read_text()[:5000], "not a Jupyter notebook"),
    ("picture.ipynb", lambda: "\x89PNG\r\n\x1a\n binary", "not a Jupyter notebook"),
    ("empty.ipynb", lambda: json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
     "none of the assignment's answer cells"),
])
def test_unreadable_files_get_a_zero_verdict_with_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content())
    result = grade(path, "--json", str(tmp_path / "results.json"))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    check_gradescope_schema(results)
    assert results["score"] == 0 and reason in results["output"]
    assert reason in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_missing_data_stops_the_grader_with_one_line(tmp_path):
    env = dict(os.environ, MNIST_ROOT=str(tmp_path / "no-data"))
    result = grade(SOLUTION, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Set MNIST_ROOT" in lines[0]
