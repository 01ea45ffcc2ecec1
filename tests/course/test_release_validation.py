"""``scripts/release.py`` validates by running the whole notebook with the course's settings: a training
cell that raises fails the release, and the solution passes with the accuracies it reached printed."""

from __future__ import annotations

import re
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, SOURCE_DIR, copy_assignment

RELEASE = ROOT / "scripts" / "release.py"


def validate_only(notebook, *options, timeout=1800):
    return subprocess.run([sys.executable, str(RELEASE), "--validate-only", str(notebook), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def broken_copy(tmp_path, grade_id, old, new):
    """A copy of the source assignment with one edit in the cell ``grade_id``."""
    path = copy_assignment(SOURCE_DIR, tmp_path / "cnn")
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    nbformat.write(nb, path)
    return path


def test_a_training_cell_that_raises_fails_the_release(tmp_path):
    """The MLP's training is given no optimizer: the cell raises inside train_model, which a validation
    of the graded test cells alone never noticed."""
    notebook = broken_copy(tmp_path, "train_fc", "criterion, opt, dl_train_fc", "criterion, None, dl_train_fc")
    result = validate_only(notebook)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cell train_fc" in result.stderr and "AttributeError" in result.stderr, result.stderr
    assert "passed" not in result.stdout and "every visible test" not in result.stdout


def test_a_training_that_does_not_finish_fails_the_release(tmp_path):
    """The MLP's training never ends: the cell timeout stops it and the release fails, naming the cell."""
    notebook = broken_copy(tmp_path, "train_fc", "history_fc = train_model(",
                           "while True:\n    pass\nhistory_fc = train_model(")
    result = validate_only(notebook, "--timeout", "120")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "every cell with a 120 s timeout" in result.stdout
    assert "cell train_fc" in result.stderr and "did not finish within the 120 s cell timeout" in result.stderr


def test_a_failing_cell_that_is_not_a_test_fails_the_release(tmp_path):
    """A cell outside the graded tests (the data preview) that raises stops the release too."""
    notebook = broken_copy(tmp_path, "data_preview", "next(iter(dl_train_img))", "next(iter([]))")
    result = validate_only(notebook)
    assert result.returncode == 1
    assert "cell data_preview" in result.stderr and "StopIteration" in result.stderr, result.stderr


def test_the_course_timeout_is_the_one_in_nbgrader_config():
    """Not nbgrader's 30 s default: the validation announces the configuration's value before it starts."""
    configured = re.search(r"ExecutePreprocessor\.timeout = (\d+)", (ROOT / "nbgrader_config.py").read_text())
    assert configured is not None
    result = subprocess.run([sys.executable, str(RELEASE), "--validate-only", str(ROOT / "no-such.ipynb")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "no notebook at" in result.stderr
    sys.path.insert(0, str(RELEASE.parent))
    try:
        import release
    finally:
        sys.path.remove(str(RELEASE.parent))
    assert release.course_timeout() == int(configured.group(1)) > 30


@pytest.mark.slow
def test_the_solution_validates_with_its_accuracies_printed(tmp_path):
    notebook = copy_assignment(SOURCE_DIR, tmp_path / "cnn")
    result = validate_only(notebook, timeout=3 * 1800)
    assert result.returncode == 0, result.stderr
    finals = dict(re.findall(r"release: (\w+)\s+final test accuracy ([\d.]+)", result.stdout))
    assert set(finals) == {"MLP", "LeNet", "CNN"}, result.stdout
    assert all(0.9 < float(value) <= 1 for value in finals.values())
    assert "the text promises around 97%" in result.stdout
