"""The PrairieLearn question: what ``python -m autograder prairielearn`` writes, and its real entry point
run as PrairieLearn runs it, in a simulated ``/grade`` tree (``GRADE_ROOT`` moves the tree), with MNIST
in a private folder as in the grader image."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from submissions import RELEASE, SOLUTION, check_prairielearn_results, edited, kill_the_grader


def write_question(out_dir: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "prairielearn", str(out_dir), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def question(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("question") / "cnn"
    made = write_question(folder)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture(scope="module")
def image_mnist(tmp_path_factory) -> Path:
    """MNIST as the image holds it: the original files in a folder only root may read."""
    root = tmp_path_factory.mktemp("mnist")
    shutil.copytree(Path(os.environ["MNIST_ROOT"]) / "MNIST" / "raw", root / "MNIST" / "raw",
                    ignore=lambda folder, names: [n for n in names if not n.endswith(".gz")])
    root.chmod(0o700)
    return root


def job(question: Path, tree: Path, files: dict[str, bytes], mnist: Path) -> tuple[Path, dict[str, str]]:
    """One grading job as PrairieLearn lays it out: /grade with the question's tests/, the student's files
    and data.json; returns the entry point (made executable) and its environment."""
    shutil.copytree(question / "tests", tree / "tests")
    (tree / "student").mkdir()
    for name, content in files.items():
        (tree / "student" / name).write_bytes(content)
    (tree / "data").mkdir()
    (tree / "data" / "data.json").write_text(json.dumps({"params": {}, "submitted_answers": {}}))
    entrypoint = json.loads((question / "info.json").read_text())["externalGradingOptions"]["entrypoint"]
    script = tree / Path(entrypoint).relative_to("/grade")
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    env.update(GRADE_ROOT=str(tree), MNIST_ROOT=str(mnist))
    return script, env


def grade(question: Path, tree: Path, files: dict[str, bytes], mnist: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """One grading job, its entry point run as PrairieLearn runs it."""
    script, env = job(question, tree, files, mnist)
    run = subprocess.run([str(script)], cwd="/", env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr   # PrairieLearn throws away the results of a failed entry point
    assert "Traceback" not in run.stderr
    return run, check_prairielearn_results(tree / "results" / "results.json")


# ---- the question folder ----

def test_the_question_folder_holds_what_prairielearn_and_docker_need(question):
    info = json.loads((question / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["enabled"] is True and options["enableNetworking"] is False
    assert 60 <= options["timeout"] <= 600 and options["image"]
    assert (question / Path(options["entrypoint"]).relative_to("/grade")).is_file()
    html = (question / "question.html").read_text()
    assert '<pl-file-upload file-names="cnn.ipynb">' in html and "<pl-external-grader-results>" in html
    tests = question / "tests"
    assert {p.relative_to(tests).as_posix() for p in tests.rglob("*")} >= {
        "autograder/engine.py", "helpers/data.py", "release/cnn/cnn.ipynb", "requirements-grading.txt"}
    assert not (tests / "source").exists() and not (tests / "tests").exists()
    for never_run in ("gradescope", "batch", "similarity", "cli.py"):
        assert not (tests / "autograder" / never_run).exists(), never_run
    release = nbformat.read(tests / "release" / "cnn" / "cnn.ipynb", as_version=4)
    assert "### BEGIN SOLUTION" not in "".join(cell.source for cell in release.cells)
    # one image build for both platforms: the Dockerfile and Gradescope's setup.sh run the same script
    dockerfile = (question / "Dockerfile").read_text()
    assert "bash autograder/platform/install.sh --sandbox-user" in dockerfile and "ENV MNIST_ROOT=" in dockerfile
    assert "autograder/platform/install.sh" in (ROOT / "autograder" / "gradescope" / "setup.sh").read_text()
    assert (tests / "autograder" / "platform" / "install.sh").read_bytes() == \
        (ROOT / "autograder" / "platform" / "install.sh").read_bytes()


def test_a_rebuild_keeps_the_question_uuid_and_takes_options(tmp_path):
    assert write_question(tmp_path / "q").returncode == 0
    first = json.loads((tmp_path / "q" / "info.json").read_text())
    made = write_question(tmp_path / "q", "--image", "course/grader:2", "--timeout", "240")
    assert made.returncode == 0, made.stderr
    again = json.loads((tmp_path / "q" / "info.json").read_text())
    assert again["uuid"] == first["uuid"]
    assert again["externalGradingOptions"]["image"] == "course/grader:2"
    assert again["externalGradingOptions"]["timeout"] == 240
    assert "docker push course/grader:2" in made.stdout


def test_the_default_image_name_is_not_offered_for_a_push(tmp_path):
    """Docker Hub refuses a push of an image without a user or organisation: ask for --image instead."""
    made = write_question(tmp_path / "q")
    assert made.returncode == 0
    assert "docker push mnist-cnn-grader" not in made.stdout
    assert "--image YOUR_DOCKERHUB_USER/mnist-cnn-grader" in made.stdout
    assert "docker push YOUR_DOCKERHUB_USER/mnist-cnn-grader" in made.stdout


@pytest.mark.parametrize("options, message", [
    (["--timeout", "900"], "--timeout must be 1 to 600 seconds"),
    (["--image", "two words"], "--image must be an image name"),
])
def test_bad_options_get_one_line_and_status_2(tmp_path, options, message):
    made = write_question(tmp_path / "q", *options)
    assert made.returncode == 2 and message in made.stderr and "Traceback" not in made.stderr
    assert not (tmp_path / "q").exists()


# ---- uploads that cannot be graded cost no attempt ----

@pytest.mark.parametrize("files, reason", [
    ({}, "the submission holds no notebook: upload your cnn.ipynb"),
    ({"cnn.ipynb": b"\x89PNG\r\n\x1a\n not a notebook"}, "not a Jupyter notebook"),
    ({"a.ipynb": b"{}", "b.ipynb": b"{}"}, "several notebooks (a.ipynb, b.ipynb)"),
])
def test_an_upload_that_is_not_one_notebook_is_not_gradable(question, image_mnist, tmp_path, files, reason):
    run, results = grade(question, tmp_path / "grade", files, image_mnist)
    assert results["gradable"] is False and reason in results["format_errors"][0]
    assert run.stderr.lower().count("not graded") == 1, run.stderr
    assert "score" not in results


@pytest.mark.slow   # starts the sandbox and PyTorch before the data is found missing
def test_missing_data_is_the_graders_fault_not_the_students(question, tmp_path):
    empty = tmp_path / "no-mnist"
    empty.mkdir(mode=0o700)
    run, results = grade(question, tmp_path / "grade", {"cnn.ipynb": SOLUTION.read_bytes()}, empty)
    assert results["gradable"] is False and "through no fault of your submission" in results["format_errors"][0]
    assert "MNIST is not in" in run.stderr


def test_the_grader_hides_the_grade_tree_from_the_sandbox(question, image_mnist, tmp_path):
    grade(question, tmp_path / "grade", {}, image_mnist)
    for folder in ("", "tests", "student", "data", "results"):
        assert (tmp_path / "grade" / folder).stat().st_mode & 0o077 == 0, folder


# ---- gradings ----

@pytest.mark.slow
def test_the_solution_gets_full_score_with_measured_accuracies(question, image_mnist, tmp_path):
    _, results = grade(question, tmp_path / "grade", {"cnn.ipynb": SOLUTION.read_bytes()}, image_mnist)
    assert results["gradable"] is True and results["score"] == 1
    accuracy = [t for t in results["tests"] if t["name"].endswith("test accuracy after the grader's training")]
    assert len(accuracy) == 3 and all("measured: 0." in t["message"] and "≥" in t["message"] for t in accuracy)


@pytest.mark.slow
def test_a_one_bug_notebook_loses_that_checks_points_with_the_reason(question, image_mnist, tmp_path):
    broken = edited(SOLUTION, tmp_path, "broken", {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]})
    _, results = grade(question, tmp_path / "grade", {"cnn.ipynb": broken.read_bytes()}, image_mnist)
    lost = [t for t in results["tests"] if t["points"] < t["max_points"]]
    assert [t["name"] for t in lost] == ["FC: computes the intended function"] and results["score"] == 0.94
    assert lost[0]["message"] != "passed" and lost[0]["output"].startswith("Hint: ")
    assert results["message"].splitlines()[0] == "94 of 100 points."


@pytest.mark.slow
def test_the_message_keeps_one_note_per_line(question, image_mnist, tmp_path):
    """An untouched release stops at every exercise: each cell's note is a line of its own."""
    _, results = grade(question, tmp_path / "grade", {"cnn.ipynb": RELEASE.read_bytes()}, image_mnist)
    lines = results["message"].splitlines()
    assert lines[0] == "0 of 100 points."
    stopped = [line for line in lines[1:] if line.startswith("cell ") and "NotImplementedError" in line]
    assert len(stopped) >= 2 and all(line.count("NotImplementedError") == 1 for line in stopped), lines


def test_a_grader_killed_by_the_system_still_leaves_results(question, image_mnist, tmp_path):
    """As when the container's memory limit kills the grader: the entry point's second, small run writes
    the fault results (not gradable, so no point and no attempt is lost) and the log names the signal."""
    script, env = job(question, tmp_path / "grade", {"cnn.ipynb": SOLUTION.read_bytes()}, image_mnist)
    entry = subprocess.Popen([str(script)], cwd="/", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    kill_the_grader(entry)
    _, err = entry.communicate(timeout=120)
    assert entry.returncode == 0, err
    results = check_prairielearn_results(tmp_path / "grade" / "results" / "results.json")
    assert results["gradable"] is False and "through no fault of your submission" in results["format_errors"][0]
    assert "the grader was killed by SIGKILL" in err and "memory limit" in err
