"""The sandbox starts wherever Python lives: a virtual environment under /tmp (which the sandbox's own
/tmp would hide), one reached through a link; and where it cannot (the separate-user sandbox and an
interpreter in a private folder) the grader says so in one line before grading."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from submissions import SOLUTION

pytestmark = pytest.mark.slow


def make_venv(folder: Path) -> Path:
    """A venv at ``folder`` that sees this environment's packages through a .pth file (no reinstall)."""
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    packages = next(folder.glob("lib/python3*/site-packages"))
    (packages / "project.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return folder / "bin" / "python"


def grade_with(python: Path | str, folder: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "autograder", "grade", str(SOLUTION), "--json", str(folder / "r.json"),
                           *options], cwd=ROOT, capture_output=True, text=True, timeout=600)


def results(folder: Path) -> dict:
    """The results file without what differs from run to run: the times, and where the grader ran."""
    found = json.loads((folder / "r.json").read_text())
    found.pop("execution_time")
    found["extra_data"].pop("stages")
    found["extra_data"].pop("provenance")
    return found


@pytest.fixture(scope="module")
def by_project_python(tmp_path_factory):
    folder = tmp_path_factory.mktemp("project-python")
    graded = grade_with(sys.executable, folder, "--isolation", "bubblewrap")
    assert graded.returncode == 0, graded.stderr
    return results(folder)


@pytest.mark.parametrize("through_link", [False, True])
def test_a_venv_under_tmp_grades_exactly_as_the_project_one(tmp_path, by_project_python, through_link):
    python = make_venv(tmp_path / "venv")
    if through_link:
        (tmp_path / "link").symlink_to(tmp_path / "venv")
        python = tmp_path / "link" / "bin" / "python"
    graded = grade_with(python, tmp_path, "--isolation", "bubblewrap")
    assert graded.returncode == 0 and "could not start" not in graded.stdout + graded.stderr, graded.stderr
    assert results(tmp_path) == by_project_python


def test_an_interpreter_the_sandbox_user_cannot_reach_is_named_before_grading(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    graded = grade_with(make_venv(private / "venv"), tmp_path, "--isolation", "user")
    lines = graded.stderr.strip().splitlines()
    assert graded.returncode == 2 and len(lines) == 1, graded.stderr
    assert "the separate-user sandbox cannot reach the Python installation:" in lines[0]
    assert "is closed to other users (chmod o+x" in lines[0]
    assert not (tmp_path / "r.json").exists()
