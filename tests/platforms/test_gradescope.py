"""The Gradescope bundle: what it holds, and its real setup.sh and run_autograder in a simulated
/autograder tree (pip finds everything installed already; MNIST comes from the shared folder's
original .gz files, which setup.sh unpacks as it would after a download)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.platform.container import cpu_limit, memory_limit
from autograder.platform.grading import GRADER_RESERVE, container_settings, find_notebook
from autograder.sandbox.process import Limits
from autograder.submission import SubmissionError
from conftest import ROOT
from submissions import SOLUTION, check_gradescope_schema, edited, unpack

MB = 1024**2


def build(out_dir: Path, *options: str) -> Path:
    made = subprocess.run([sys.executable, "-m", "autograder", "gradescope", str(out_dir), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    assert "autograder.zip" in made.stdout
    return out_dir / "autograder.zip"


# ---- the bundle's contents ----

def test_bundle_holds_the_grader_and_release_but_no_solutions(tmp_path):
    with zipfile.ZipFile(build(tmp_path)) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        release = nbformat.reads(archive.read("release/cnn/cnn.ipynb").decode(), as_version=4)
        requirements = archive.read("requirements-grading.txt").decode()
        options = json.loads(archive.read("gradescope.json"))
    assert {"setup.sh", "run_autograder", "autograder/engine.py", "autograder/checks/check_accuracy.py",
            "helpers/data.py"} <= names
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111
    assert not [n for n in names if n.startswith(("source/", "tests/", "data/")) or "__pycache__" in n]
    never_run = ("autograder/batch/", "autograder/similarity/", "autograder/prairielearn/", "autograder/cli.py")
    assert not [n for n in names if n.startswith(never_run)], "the bundle carries what Gradescope never runs"
    assert "### BEGIN SOLUTION" not in "".join(cell.source for cell in release.cells)
    assert requirements == (ROOT / "requirements-grading.txt").read_text()
    assert "torch==2.14.1" in requirements and "nbgrader" not in requirements
    assert modes["autograder/platform/install.sh"] & 0o111
    assert options == {"visibility": "visible", "stdout_visibility": "hidden", "max_submissions": None,
                       "per_hours": 24.0, "hints": "full"}


@pytest.mark.parametrize("options, message", [
    (["--visibility", "sometimes"], "invalid choice: 'sometimes'"),
    (["--per-hours", "12"], "--per-hours needs --max-submissions"),
    (["--max-submissions", "0"], "at least 1, not 0"),
    (["--max-submissions", "3", "--per-hours", "-1"], "a positive number of hours, not -1"),
    (["--hints", "some"], "invalid choice: 'some'"),
])
def test_bad_bundle_options_get_one_line_and_status_2(tmp_path, options, message):
    made = subprocess.run([sys.executable, "-m", "autograder", "gradescope", str(tmp_path), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 2 and message in made.stderr and "Traceback" not in made.stderr
    assert not (tmp_path / "autograder.zip").exists()


def test_a_rebuild_replaces_the_bundle_in_place(tmp_path):
    first = build(tmp_path).read_bytes()
    assert build(tmp_path).read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["autograder.zip"]


# ---- what the runner reads from the container and the submission ----

def cgroup_files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


def test_limits_of_a_cgroup_v1_container(tmp_path):
    root = cgroup_files(tmp_path, {"memory/job/memory.limit_in_bytes": str(768 * MB),
                                   "memory/memory.limit_in_bytes": str(2**63 - 4096),
                                   "cpu/job/cpu.cfs_quota_us": "50000", "cpu/job/cpu.cfs_period_us": "100000"})
    membership = "4:memory:/job\n3:cpu,cpuacct:/job\n0::/\n"
    assert memory_limit(root, membership) == 768 * MB
    assert cpu_limit(root, membership) == 0.5
    assert memory_limit(root, "4:memory:/\n") is None   # the top's "no limit" number
    assert cpu_limit(root, "4:memory:/\n") is None


def test_limits_of_a_cgroup_v2_container(tmp_path):
    root = cgroup_files(tmp_path, {"memory.max": str(768 * MB), "cpu.max": "200000 100000"})
    assert (memory_limit(root, "0::/"), cpu_limit(root, "0::/")) == (768 * MB, 2.0)
    unlimited = cgroup_files(tmp_path / "open", {"memory.max": "max", "cpu.max": "max 100000"})
    assert (memory_limit(unlimited, "0::/"), cpu_limit(unlimited, "0::/")) == (None, None)


def test_sandbox_limits_fit_the_container():
    small = container_settings(768 * MB, 0.5).limits
    assert small.memory_bytes == 768 * MB - GRADER_RESERVE
    assert small.total_seconds == 2 * Limits().total_seconds and small.cell_seconds == 2 * Limits().cell_seconds
    assert container_settings(None, None).limits == Limits()
    assert container_settings(64 * 1024 * MB, 4).limits == Limits()


def test_the_notebook_to_grade_is_found_or_the_student_told_why(tmp_path):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "cnn-checkpoint.ipynb").write_text("{}")
    with pytest.raises(SubmissionError, match="no notebook: upload your cnn.ipynb"):
        find_notebook(tmp_path)
    (tmp_path / "mine.ipynb").write_text("{}")
    assert find_notebook(tmp_path) == tmp_path / "mine.ipynb"
    (tmp_path / "scratch.ipynb").write_text("{}")
    with pytest.raises(SubmissionError, match=r"several notebooks \(mine.ipynb, scratch.ipynb\)"):
        find_notebook(tmp_path)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "cnn.ipynb").write_text("{}")
    assert find_notebook(tmp_path) == tmp_path / "work" / "cnn.ipynb"


# ---- the real scripts in a simulated /autograder ----

@pytest.fixture(scope="module")
def autograder_tree(tmp_path_factory):
    """/autograder after Gradescope unpacked the bundle into source/ and ran setup.sh there; hints point to
    the notebook's steps."""
    tree = tmp_path_factory.mktemp("autograder")
    options = ("--visibility", "after_published", "--stdout-visibility", "after_due_date", "--hints", "step")
    unpack(build(tmp_path_factory.mktemp("bundle"), *options), tree / "source")
    raw = tree / "source" / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (Path(os.environ["MNIST_ROOT"]) / "MNIST" / "raw").glob("*.gz"):
        shutil.copy(gz, raw)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    setup = subprocess.run(["bash", "setup.sh"], cwd=tree / "source", env=env, capture_output=True, text=True,
                           timeout=600)
    assert setup.returncode == 0, setup.stdout[-2000:] + setup.stderr[-2000:]
    assert "grading dependencies and MNIST" in setup.stdout
    assert (raw / "train-images-idx3-ubyte").is_file()   # unpacked by torchvision's own download step
    shutil.copy(tree / "source" / "run_autograder", tree / "run_autograder")   # where Gradescope puts it
    return tree


def run_autograder(tree: Path, submission: dict[str, Path]) -> tuple[subprocess.CompletedProcess, dict]:
    shutil.rmtree(tree / "submission", ignore_errors=True)
    shutil.rmtree(tree / "results", ignore_errors=True)
    (tree / "submission").mkdir()
    (tree / "results").mkdir()
    for name, source in submission.items():
        shutil.copy(source, tree / "submission" / name)
    env = {k: v for k, v in os.environ.items() if k != "MNIST_ROOT"}
    env["AUTOGRADER_ROOT"] = str(tree)
    run = subprocess.run([str(tree / "run_autograder")], env=env, capture_output=True, text=True, timeout=600)
    return run, json.loads((tree / "results" / "results.json").read_text())


@pytest.mark.slow
def test_run_autograder_grades_the_solution(autograder_tree):
    run, results = run_autograder(autograder_tree, {"cnn.ipynb": SOLUTION})
    assert run.returncode == 0, run.stderr
    check_gradescope_schema(results)
    assert results["score"] == 100 and results["extra_data"]["accuracies"]["cnn"] >= 0.8
    assert results["stdout_visibility"] == "after_due_date" and results["output_format"] == "md"
    assert {(t["visibility"], t["output_format"]) for t in results["tests"]} == {("after_published", "md")}
    accuracy = [t for t in results["tests"] if t["name"].endswith("test accuracy after the grader's training")]
    assert len(accuracy) == 3 and all(t["output"].startswith("**Passed.**\n\nMeasured: `0.") for t in accuracy)


@pytest.mark.slow
def test_run_autograder_grades_a_lone_notebook_of_another_name(autograder_tree, tmp_path):
    broken = edited(SOLUTION, tmp_path, "broken", {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]})
    run, results = run_autograder(autograder_tree, {"my work.ipynb": broken, "notes.txt": SOLUTION})
    assert run.returncode == 0, run.stderr
    check_gradescope_schema(results)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["FC: computes the intended function"] and results["score"] == 94
    assert not failed[0]["output"].startswith("**Passed")
    assert "*Hint:* Look again at the notebook's section “Step 2: a multi-layer perceptron”." in failed[0]["output"]
    assert "Look for a missing" not in json.dumps(results), "the full hint stays out of the students' results"


@pytest.mark.slow
def test_run_autograder_without_a_notebook_tells_the_student(autograder_tree):
    run, results = run_autograder(autograder_tree, {"cnn.py": SOLUTION})
    assert run.returncode == 0
    assert results == {"score": 0, "output": "Not graded: the submission holds no notebook: upload your cnn.ipynb.",
                       "tests": [], "output_format": "md", "stdout_visibility": "after_due_date"}


@pytest.mark.slow
def test_run_autograder_without_data_blames_the_grader_not_the_student(autograder_tree):
    data = autograder_tree / "source" / "data"
    data.rename(data.with_name("data-away"))
    try:
        run, results = run_autograder(autograder_tree, {"cnn.ipynb": SOLUTION})
    finally:
        shutil.rmtree(data, ignore_errors=True)   # the folder the failed download attempt made
        data.with_name("data-away").rename(data)
    assert run.returncode == 2 and "MNIST is not in" in run.stderr and "Traceback" not in run.stderr
    assert results["score"] == 0 and "through no fault of your submission" in results["output"]


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="probing as the sandbox's uid needs root")
def test_run_autograder_leaves_nothing_readable_to_the_sandbox_user(autograder_tree):
    """By permissions alone (no Landlock): after run_autograder, the sandbox's uid reads none of the
    grader, the data, the submission or the results, though every folder above the tree lets it pass."""
    from autograder.sandbox.exposure import readable_by_sandbox
    from autograder.sandbox.isolation import SANDBOX_UIDS
    from sandbox_cells import available

    available("user")   # the probe runs this interpreter as the sandbox's uid
    autograder_tree.chmod(0o755)   # as Gradescope leaves it: run_autograder must close it
    run_autograder(autograder_tree, {"cnn.ipynb": SOLUTION})
    opened = [folder for folder in autograder_tree.parents if not folder.stat().st_mode & 0o001]
    for folder in opened:
        folder.chmod(folder.stat().st_mode | 0o001)
    source = autograder_tree / "source"
    secrets = [autograder_tree, source, source / "autograder", source / "autograder" / "reference.py",
               source / "data" / "MNIST" / "raw", *sorted((source / "data" / "MNIST" / "raw").glob("*"))[:2],
               autograder_tree / "submission" / "cnn.ipynb", autograder_tree / "results" / "results.json"]
    uid = SANDBOX_UIDS[-1]

    def become_the_sandbox_user() -> None:  # every id, groups included, as the sandbox drops them
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)

    try:
        found = readable_by_sandbox([*secrets, Path("/etc/hostname")], "/", {}, become_the_sandbox_user)
    finally:
        for folder in opened:
            folder.chmod(folder.stat().st_mode & ~0o001)
    assert found == ["/etc/hostname"]
