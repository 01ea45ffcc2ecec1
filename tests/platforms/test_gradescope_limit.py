"""The optional limit on graded submissions, judged from crafted ``submission_metadata.json`` files in
Gradescope's documented format, through the real ``run_autograder`` of a bundle built with the limit.
A submission over the limit is answered without grading, so these runs are quick; one under the limit is
graded, and its upload here holds no notebook so that the grading stops at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.gradescope.ratelimit import next_graded_time
from conftest import ROOT
from submissions import SOLUTION, check_gradescope_schema, kill_the_grader, unpack

ZONE = timezone(timedelta(hours=-7))
NOW = datetime(2026, 3, 10, 12, 0, 0, 250000, tzinfo=ZONE)   # the current submission's created_at


@pytest.fixture(scope="module")
def limited_tree(tmp_path_factory) -> Path:
    """/autograder with a bundle allowing 2 graded submissions in any 6 hours (no setup.sh needed:
    a refused submission never reaches PyTorch or the data)."""
    bundle = tmp_path_factory.mktemp("bundle")
    made = subprocess.run([sys.executable, "-m", "autograder", "gradescope", str(bundle), "--max-submissions", "2",
                           "--per-hours", "6", "--visibility", "after_due_date"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    tree = tmp_path_factory.mktemp("autograder")
    unpack(bundle / "autograder.zip", tree / "source")
    return tree


def earlier(hours_ago: float, score: float, **extra) -> dict:
    """A previous submission as Gradescope lists it, with the results our grader wrote for it."""
    tests = [{"name": "FC: parameter count", "score": min(score, 4), "max_score": 4, "output": "passed"}]
    return {"submission_time": (NOW - timedelta(hours=hours_ago)).isoformat(), "score": score,
            "results": {"score": score, "tests": tests, "output": "", "extra_data": extra}}


def run(tree: Path, metadata: str | dict) -> tuple[subprocess.CompletedProcess, dict]:
    (tree / "submission").mkdir(exist_ok=True)
    (tree / "submission" / "notes.txt").write_text("no notebook: a graded run stops at once")
    text = metadata if isinstance(metadata, str) else json.dumps(metadata)
    (tree / "submission_metadata.json").write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    env["AUTOGRADER_ROOT"] = str(tree)
    done = subprocess.run(["bash", str(tree / "source" / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done, json.loads((tree / "results" / "results.json").read_text())


def metadata(*previous: dict) -> dict:
    return {"id": 7, "created_at": NOW.isoformat(), "previous_submissions": list(previous),
            "assignment": {"title": "cnn"}, "users": [{"email": "s@example.com", "id": 1, "name": "S"}]}


def graded(results: dict) -> bool:
    return not results.get("extra_data", {}).get("rate_limited") and "no notebook" in results["output"]


def test_under_the_limit_the_submission_is_graded(limited_tree):
    _, results = run(limited_tree, metadata(earlier(1, 60)))
    assert graded(results)


def test_at_the_limit_the_best_earlier_result_is_kept_with_the_time_of_the_next_grading(limited_tree):
    _, results = run(limited_tree, metadata(earlier(5, 90), earlier(1, 60)))
    assert results["extra_data"]["rate_limited"] is True
    assert results["score"] == 90 and results["tests"][0]["score"] == 4
    # the older of the two (07:00:00.25) leaves the 6-hour window an hour from now, shown rounded up
    assert "at or after 2026-03-10 13:00:01 UTC-07:00" in results["output"]
    assert "best score so far, 90, is kept" in results["output"]
    assert results["extra_data"]["next_graded_at"] == "2026-03-10T13:00:01-07:00"


def test_once_the_window_has_passed_the_submission_is_graded_again(limited_tree):
    _, results = run(limited_tree, metadata(earlier(6.01, 90), earlier(1, 60)))
    assert graded(results)


def test_refused_and_ungraded_submissions_do_not_count(limited_tree):
    refused = earlier(2, 90, rate_limited=True)
    ungraded = {"submission_time": (NOW - timedelta(hours=3)).isoformat(), "score": 0.0,
                "results": {"score": 0, "output": "Not graded: no notebook", "tests": []}}
    _, results = run(limited_tree, metadata(earlier(1, 60), refused, ungraded))
    assert graded(results)
    # a refused result of this very bundle, fed back as an earlier submission, is recognised as refused
    _, first = run(limited_tree, metadata(earlier(5, 90), earlier(1, 60)))
    again = {"submission_time": (NOW - timedelta(minutes=1)).isoformat(), "score": first["score"], "results": first}
    _, results = run(limited_tree, metadata(earlier(7, 90), earlier(1, 60), again))
    assert graded(results)


@pytest.mark.parametrize("text", [
    "{not json",
    json.dumps({"previous_submissions": []}),                                    # no created_at
    json.dumps({"created_at": "yesterday", "previous_submissions": []}),
    json.dumps({"created_at": NOW.isoformat(), "previous_submissions": {"a": 1}}),
    json.dumps([1, 2]),
])
def test_unreadable_metadata_never_costs_a_grading(limited_tree, text):
    done, results = run(limited_tree, text)
    assert graded(results) and "submission limit not applied" in done.stdout


def test_malformed_entries_are_left_out_of_the_count(limited_tree):
    junk = [{"submission_time": "soon", "results": {"tests": [1], "score": 9}}, "text", {"results": None}]
    _, results = run(limited_tree, metadata(earlier(1, 60), *junk))
    assert graded(results)


def test_the_next_grading_waits_for_enough_submissions_to_leave_the_window():
    times = [NOW - timedelta(hours=h) for h in (5, 4, 3, 1)]
    window = timedelta(hours=6)
    assert next_graded_time(times, 2, window) == NOW - timedelta(hours=3) + window
    assert next_graded_time(times, 4, window) == NOW - timedelta(hours=5) + window


def test_a_grader_killed_by_the_system_still_leaves_results(limited_tree):
    """As when the container's memory limit kills the grader: run_autograder's second, small run writes the
    fault results (the student reads that it is not their submission's fault) and the log names the signal."""
    (limited_tree / "submission").mkdir(exist_ok=True)
    shutil.copy(SOLUTION, limited_tree / "submission" / "cnn.ipynb")
    (limited_tree / "submission_metadata.json").write_text(json.dumps(metadata()))
    (limited_tree / "results" / "results.json").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    env["AUTOGRADER_ROOT"] = str(limited_tree)
    entry = subprocess.Popen(["bash", str(limited_tree / "source" / "run_autograder")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kill_the_grader(entry)
    _, err = entry.communicate(timeout=120)
    assert entry.returncode == 128 + signal.SIGKILL
    results = json.loads((limited_tree / "results" / "results.json").read_text())
    check_gradescope_schema(results)
    assert results["score"] == 0 and "through no fault of your submission" in results["output"]
    assert "the grader was killed by SIGKILL" in err and "memory limit" in err
