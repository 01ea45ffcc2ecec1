"""Batch grading of an nbgrader course folder: results, CSV, gradebook, feedback, resuming, parallel jobs."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
from nbgrader.api import Gradebook

from conftest import ROOT
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow


def batch(course, *extra, env=None):
    return subprocess.run([sys.executable, "-m", "autograder", "batch", str(course), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with a good, a broken, a hanging and a malformed submission."""
    root = tmp_path_factory.mktemp("course")
    scratch = tmp_path_factory.mktemp("made")
    made = {
        "ada": SOLUTION,
        "ben": edited(SOLUTION, scratch, "broken", {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]}),
        "cy": edited(SOLUTION, scratch, "hang", {"fc_params": [("### BEGIN SOLUTION", "while True:\n    pass\n### BEGIN SOLUTION")]}),
    }
    for student, source in made.items():
        folder = root / "submitted" / student / "cnn"
        folder.mkdir(parents=True)
        (folder / "cnn.ipynb").write_bytes(source.read_bytes())
    malformed = root / "submitted" / "dee" / "cnn"
    malformed.mkdir(parents=True)
    (malformed / "cnn.ipynb").write_text('{"cells": [')
    return root


def results_of(course, student):
    return json.loads((course / "autograded" / student / "cnn" / "results.json").read_text())


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.text, self.external, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.external += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def interrupted_then_resumed(course):
    """Ctrl-C after the first result, then a second run with two jobs that finishes the class."""
    process = subprocess.Popen([sys.executable, "-m", "autograder", "batch", str(course), "--jobs", "1"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(course.glob("autograded/*/cnn/results.json")) and time.monotonic() < deadline:
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    first = {p.parts[-3] for p in course.glob("autograded/*/cnn/results.json")}
    resumed = batch(course, "--jobs", "2")
    return process.returncode, stderr, first, resumed


def test_interrupted_run_leaves_only_whole_results(course, interrupted_then_resumed):
    returncode, stderr, first, _ = interrupted_then_resumed
    assert returncode == 130 and "run the same command again" in stderr
    assert 1 <= len(first) < 4
    assert not list(course.glob("autograded/**/*.tmp"))


def test_resumed_run_grades_the_rest_and_reports(course, interrupted_then_resumed):
    _, _, first, resumed = interrupted_then_resumed
    assert resumed.returncode == 0, resumed.stderr
    assert f"graded 4 ({len(first)} from an earlier run), failed to grade 0" in resumed.stdout
    assert "4/4" in resumed.stderr and "submission" in resumed.stderr   # the progress bar
    scores = {s: results_of(course, s)["score"] for s in ("ada", "ben", "cy", "dee")}
    assert scores == {"ada": 100, "ben": 94, "cy": 100, "dee": 0}  # cy's hanging cell still holds a right answer
    assert "timed out" in results_of(course, "cy")["output"]
    assert "not a Jupyter notebook" in results_of(course, "dee")["output"]


def test_csv_has_a_row_per_student_with_every_check(course, interrupted_then_resumed):
    rows = list(csv.DictReader((course / "cnn_grades.csv").open()))
    assert [r["student"] for r in rows] == ["ada", "ben", "cy", "dee"]
    assert [r["total"] for r in rows] == ["100", "94", "100", "0"]
    assert rows[1]["FC: computes the intended function"] == "0" and rows[0]["FC: computes the intended function"] == "6"
    assert len(rows[0]) == 2 + 24 + 2
    graded_now = [r for r in rows if r["status"] == "graded"]
    assert graded_now and all(0 < float(r["seconds"]) < 300 for r in graded_now)


def test_scores_are_in_nbgrader_gradebook(course, interrupted_then_resumed):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        assert {s.id for s in gradebook.students} == {"ada", "ben", "cy", "dee"}
        assert gradebook.find_submission("cnn", "ada").score == 100
        assert gradebook.find_submission("cnn", "ben").score == 94
        assert gradebook.find_assignment("cnn").max_score == 100


def test_feedback_pages_stand_alone_and_hide_the_checks(course, interrupted_then_resumed):
    page = _Page()
    page.feed((course / "feedback" / "ben" / "cnn" / "autograder.html").read_text())
    text = " ".join(page.text)
    assert page.external == [] and page.scripts == 0
    assert "Score: 94 / 100" in text and "FC: computes the intended function" in text
    assert "Hint:" in text and "test accuracy" in text and "conv 6 x 28 x 28" in text
    assert re.search(r"0\.\d{3} ≥ 0\.85", text), "the measured accuracy against its threshold"
    for secret in ("def test_", "assert ", "graded.", "REFERENCES", "t10k"):
        assert secret not in text


def test_rerun_skips_what_is_graded(course, interrupted_then_resumed):
    started = time.monotonic()
    again = batch(course)
    assert again.returncode == 0 and "graded 4 (4 from an earlier run)" in again.stdout
    assert time.monotonic() - started < 60


def test_batch_needs_only_the_venvs_interpreter(course, interrupted_then_resumed):
    """Run as the README writes it, with no activated venv: nbgrader's alembic is found all the same."""
    bare = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin")
    again = batch(course, env=bare)
    assert again.returncode == 0, again.stderr
    assert "4 recorded in the gradebook" in again.stdout


def _without_times(csv_text):
    return [{k: v for k, v in row.items() if k not in ("seconds", "status")} for row in csv.DictReader(csv_text.splitlines())]


def test_manual_grades_survive_and_jobs_do_not_change_results(course, interrupted_then_resumed, tmp_path):
    """Also: one job grades ada and ben one after the other, and trains their LeNet and CNN graphs (the
    same in both) once; the accuracies it reuses are the ones each measured in its own grading before."""
    parallel_csv = (course / "cnn_grades.csv").read_text()
    measured = {student: results_of(course, student)["extra_data"]["accuracies"] for student in ("ada", "ben")}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("hidden-fc-computes-the-intended-function", "cnn", "cnn", "ben")
        grade.manual_score = 3
        gradebook.db.commit()
    sequential = batch(course, "--jobs", "1", "--force", "--csv", str(tmp_path / "sequential.csv"))
    assert sequential.returncode == 0, sequential.stderr
    assert _without_times((tmp_path / "sequential.csv").read_text()) == _without_times(parallel_csv)
    extra = {student: results_of(course, student)["extra_data"] for student in ("ada", "ben")}
    assert sorted(data["trainings_reused"] for data in extra.values()) == [[], ["cnn", "lenet"]]  # ben's FC differs
    assert {student: data["accuracies"] for student, data in extra.items()} == measured
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        grade = gradebook.find_grade("hidden-fc-computes-the-intended-function", "cnn", "cnn", "ben")
        assert grade.manual_score == 3 and grade.auto_score == 0
        assert gradebook.find_submission("cnn", "ben").score == 97
