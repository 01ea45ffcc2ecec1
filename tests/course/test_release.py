"""The committed student release: in sync with the source, free of solutions, locked cells intact, and
stopping at the first unfilled exercise when run."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.assignment import MODELS
from conftest import RELEASE_DIR, ROOT, SOURCE_DIR, copy_assignment, error_outputs, execute

SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def grade_ids(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(SOURCE_DIR / "cnn.ipynb", as_version=4)


@pytest.fixture(scope="module")
def release_nb():
    return nbformat.read(RELEASE_DIR / "cnn.ipynb", as_version=4)


def relative_files(folder: Path) -> list[str]:
    """Every file below ``folder``, links followed (as any copy of the release follows them)."""
    return sorted(
        str(Path(directory, name).relative_to(folder))
        for directory, _, names in os.walk(folder, followlinks=True) if "__pycache__" not in directory
        for name in names
    )


def test_release_equals_fresh_nbgrader_output(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "helpers", course / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "source", course / "source", symlinks=True)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", "cnn", "--force"],
        cwd=course, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    fresh = course / "release" / "cnn"
    assert relative_files(fresh) == relative_files(RELEASE_DIR)
    for name in relative_files(fresh):
        if name.endswith(".ipynb"):
            assert nbformat.read(fresh / name, as_version=4) == nbformat.read(RELEASE_DIR / name, as_version=4), name
        else:
            assert filecmp.cmp(fresh / name, RELEASE_DIR / name, shallow=False), f"{name} differs: regenerate"


def test_release_ships_helpers_and_images_but_no_grader():
    files = relative_files(RELEASE_DIR)
    assert (RELEASE_DIR / "helpers").resolve() == (ROOT / "helpers").resolve()
    assert "helpers/__init__.py" in files and "helpers/drawing_pad.py" in files
    assert {"img/mlp.png", "img/lenet5.png", "img/cnn.png", "img/grace_hopper.png"} <= set(files)
    assert not any(part.startswith("autograder") for name in files for part in Path(name).parts)


def test_release_contains_no_solution_code(source_nb, release_nb):
    released = grade_ids(release_nb)
    text = RELEASE_DIR.joinpath("cnn.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    solution_cells = [c for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(solution_cells) == 8
    for cell in solution_cells:
        student = released[cell.metadata["nbgrader"]["grade_id"]].source
        assert "raise NotImplementedError()" in student
        for region in SOLUTION_REGION.findall(cell.source):
            for line in region.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    assert line not in student, f"solution line leaked: {line!r}"


def test_locked_cells_are_byte_identical_and_read_only(source_nb, release_nb):
    released = grade_ids(release_nb)
    locked = {gid: c for gid, c in grade_ids(source_nb).items() if c.metadata["nbgrader"]["locked"]}
    assert len(locked) > 30
    for gid, cell in locked.items():
        assert released[gid].source == cell.source, gid
        assert released[gid].metadata.get("editable") is False, gid
        assert released[gid].metadata.get("deletable") is False, gid
    assert list(released) == list(grade_ids(source_nb)), "cell order or ids differ"


def test_only_definitions_are_left_for_the_grader(release_nb):
    """Training, data, figure and widget cells carry the tag that keeps the grader from running them."""
    untagged = [c.metadata["nbgrader"]["grade_id"] for c in release_nb.cells
                if c.cell_type == "code" and "nbgrader" in c.metadata and not c.metadata["nbgrader"]["grade"]
                and "skip-grading" not in c.metadata.get("tags", [])]
    assert untagged == ["setup", "fc_class", "fc_create", "fc_params", "loss_opt", "train_model", "lenet_class",
                        "lenet_create", "lenet_params", "cnn_class", "cnn_create", "cnn_params"]


def test_release_stops_with_not_implemented_at_first_exercise(tmp_path, release_nb):
    path = copy_assignment(RELEASE_DIR, tmp_path / "cnn")
    nb, error = execute(path)
    assert error is not None and error.ename == "NotImplementedError"
    failing = [i for i, cell in enumerate(nb.cells) if error_outputs(cell)]
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    # FC's class cell runs (its body is only called later); creating the model is the first call into it.
    assert failing == [ids.index("fc_create")]
    assert ids.index("fc_class") == ids.index("fc_create") - 1
    data_text = "".join(out.get("text", "") for out in nb.cells[ids.index("data")].outputs)
    assert "training images: 60000, test images: 10000" in data_text


@pytest.mark.parametrize("model", list(MODELS))
def test_nothing_before_an_answer_cell_gives_its_count_away(release_nb, model):
    """The parameter counts are asked before anything in the notebook shows them: no code cell above the
    answer cell prints the model's summary or count, no cell contains the number; the self-check after it
    judges the answer by the grader's rule."""
    spec = MODELS[model]
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in release_nb.cells]
    answer = ids.index(spec.answer_cell)
    shown = re.compile(rf"(summary|count_parameters)\(\s*({spec.variable}|{spec.name}\()")
    count = spec.parameters
    for cell in release_nb.cells[:answer]:
        code = cell.source if cell.cell_type == "code" else ""   # the questions name the calls not to use
        assert not shown.search(code), f"a cell above {spec.answer_cell} shows the count:\n{cell.source}"
        assert not {str(count), f"{count:,}"} & set(re.findall(r"[\d,]+", cell.source)), cell.source
    after = "".join(c.source for c in release_nb.cells[answer + 1:answer + 3])
    assert f'check_arithmetic_answer("{spec.answer}", count_parameters({spec.variable}))' in after
