"""What a batch leaves in a course folder and what it tells the instructor: every output ignored by git,
a summary that names where each went, no empty error log, feedback with one note per line and the hints
at the chosen level, and a class report that Chromium shows as the aggregates of a mixed class."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from browser import chromium_paths, headless_chromium
from conftest import ROOT
from submissions import RELEASE, SOLUTION, edited

pytestmark = pytest.mark.slow
OPT_CHECK = "opt is SGD with learning rate 0.1 over model_fc's parameters"
FC_CHECK = "FC: computes the intended function"


def git(course, *args):
    return subprocess.run(["git", "-C", str(course), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A git-controlled course folder with this repository's .gitignore and a mixed class: the solution,
    a missing activation, two learning-rate slips (the same mistake, different numbers), a malformed file,
    an untouched release, and a solution whose results cannot be written (the grader's failure)."""
    root = tmp_path_factory.mktemp("course")
    scratch = tmp_path_factory.mktemp("made")
    shutil.copy(ROOT / ".gitignore", root / ".gitignore")
    git(root, "init", "-q")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".gitignore")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "course")
    made = {
        "ada": SOLUTION,
        "ben": edited(SOLUTION, scratch, "relu", {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]}),
        "cal": edited(SOLUTION, scratch, "lr001", {"loss_opt": [("lr=0.1)", "lr=0.01)")]}),
        "gil": edited(SOLUTION, scratch, "lr05", {"loss_opt": [("lr=0.1)", "lr=0.5)")]}),
        "eve": RELEASE,
        "fay": SOLUTION,
    }
    for student, source in made.items():
        folder = root / "submitted" / student / "cnn"
        folder.mkdir(parents=True)
        (folder / "cnn.ipynb").write_bytes(source.read_bytes())
    (root / "submitted" / "dee" / "cnn").mkdir(parents=True)
    (root / "submitted" / "dee" / "cnn" / "cnn.ipynb").write_text("not a notebook")
    (root / "autograded" / "fay" / "cnn" / "results.json").mkdir(parents=True)   # where her results must go
    return root


@pytest.fixture(scope="module")
def ran(course):
    """One batch (hints as pointers to the notebook's steps) and one similarity run."""
    graded = subprocess.run([sys.executable, "-m", "autograder", "batch", str(course), "--jobs", "2", "--hints", "step"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800)
    alike = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(course)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert alike.returncode == 0, alike.stderr
    return graded


def test_nothing_the_tools_wrote_shows_in_git_status(course, ran):
    assert git(course, "status", "--porcelain", "--untracked-files=all") == ""
    ignored = git(course, "status", "--porcelain", "--ignored")
    for written in ("cnn_grades.csv", "cnn_class_report.html", "gradebook.db", "submitted/", "autograded/",
                    "feedback/", "similarity/"):
        assert f"!! {written}" in ignored, (written, ignored)


def test_the_summary_names_where_everything_went(course, ran):
    assert ran.returncode == 1, ran.stderr   # fay could not be graded
    out = ran.stdout
    assert "graded 6 (0 from an earlier run), failed to grade 1" in out
    for line in (f"grades (CSV):    {course / 'cnn_grades.csv'}",
                 f"class report:    {course / 'cnn_class_report.html'}",
                 f"results:         {course / 'autograded'}/<student>/cnn/results.json",
                 f"feedback pages:  {course / 'feedback'}/<student>/cnn/autograder.html",
                 f"gradebook:       {course / 'gradebook.db'} (6 recorded)",
                 "grader errors:   none in this run"):
        assert line in out, (line, out)
    assert "not graded: fay: cannot grade:" in out
    assert not (course / "autograder-errors.log").exists()   # no empty log left behind


def test_feedback_has_one_note_per_line_and_step_pointers(course, ran):
    eve = (course / "feedback" / "eve" / "cnn" / "autograder.html").read_text()
    notes = re.search(r'<ul class="notes">(.*?)</ul>', eve, re.S)
    assert notes is not None
    items = re.findall(r"<li>(.*?)</li>", notes.group(1))
    assert sum("NotImplementedError" in item for item in items) >= 2, items
    cal = (course / "feedback" / "cal" / "cnn" / "autograder.html").read_text()
    assert "Look again at the notebook&#x27;s section \u201cSteps 3 and 4: loss and optimizer\u201d" in cal
    assert "nothing else" not in cal and "lr=0.1)" not in cal


def test_class_report_in_chromium(course, ran):
    """The page as Chromium shows it: no scripts, every plot an embedded image that decoded, the class's
    numbers, the hardest check first with the shared mistake counted once per student, the grader's failure."""
    pytest.importorskip("selenium", reason="the browser test needs selenium (pip install -r requirements.txt)")
    from selenium.webdriver.common.by import By

    page = course / "cnn_class_report.html"
    source = page.read_text()
    for secret in ("def forward", "self.fc1", "nn.Linear(784", "model_fc.parameters()"):   # never code
        assert secret not in source
    with headless_chromium(*chromium_paths(), 60) as driver:
        driver.get(page.as_uri())
        assert driver.find_elements(By.TAG_NAME, "script") == []
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 2
        for image in images:
            assert image.get_attribute("src").startswith("data:image/png;base64,")
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) > 100
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources == []   # nothing fetched: the page stands alone
        summary = driver.find_element(By.ID, "summary").text
        assert summary.startswith("7 submissions, 6 graded, 1 could not be graded; mean score")
        tables = driver.find_elements(By.TAG_NAME, "table")
        checks = [row.find_elements(By.TAG_NAME, "td") for row in tables[0].find_elements(By.TAG_NAME, "tr")[1:]]
        assert checks[0][0].text == OPT_CHECK and checks[0][2].text.endswith("2 / 6 (33%)")
        rates = [int(re.search(r"\((\d+)%\)", row[2].text).group(1)) for row in checks]
        assert rates == sorted(rates) and len(checks) == 24
        reasons = checks[0][3].text.splitlines()
        assert "opt should be plain SGD with lr=#; yours sets lr=# (2 students)" in reasons, reasons
        fc = next(row for row in checks if row[0].text == FC_CHECK)
        assert fc[2].text.endswith("3 / 6 (50%)")
        assert sum(int(n) for n in re.findall(r"\((\d+) students?\)", fc[3].text)) == 3
        accuracy_rows = [r.text for r in tables[1].find_elements(By.TAG_NAME, "tr")[1:]]
        assert accuracy_rows[0].startswith("FC 0.85 4 of 6 4"), accuracy_rows   # ada, ben, cal, gil measured
        body = driver.find_element(By.TAG_NAME, "body").text
        assert re.search(r"6 graded in this run: median \d+\.\d s, longest \d+\.\d s", body)
        assert re.search(r"fay\s+cannot grade: \[Errno 21\] Is a directory", body)
