"""Shared fixtures: the real MNIST folder, and notebooks executed by a real Jupyter kernel."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIR = ROOT / "source" / "cnn"
RELEASE_DIR = ROOT / "release" / "cnn"
SHARED_MNIST = ROOT.parent / "shared" / "data"

# Kernels and subprocesses inherit this: every test reads the real MNIST, none downloads it.
os.environ.setdefault("MNIST_ROOT", str(SHARED_MNIST))
# nbgrader runs `alembic` as a subprocess: this interpreter's bin folder must be on PATH.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


@pytest.fixture(autouse=True)
def _mnist_for_tests_that_grade(request: pytest.FixtureRequest) -> None:
    """Every test but the unit tier reads the real MNIST: say where it was looked for when it is missing."""
    if "unit" in request.node.path.parts:
        return
    raw = Path(os.environ["MNIST_ROOT"]) / "MNIST" / "raw"
    if not (raw / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found in {raw}: set MNIST_ROOT to the folder holding MNIST/raw", pytrace=False)


def copy_assignment(src: Path, dest: Path) -> Path:
    """Copy an assignment folder (links resolved, so the helpers come along) and return the notebook."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    return dest / "cnn.ipynb"


def execute(path: Path, probe: str | None = None) -> tuple[nbformat.NotebookNode, CellExecutionError | None]:
    """Run the notebook at ``path`` in a fresh python3 kernel (cwd: its folder), optionally with a probe
    cell appended; save it in place with outputs and return it with the error that stopped it, if any."""
    nb = nbformat.read(path, as_version=4)
    if probe is not None:
        nb.cells.append(nbformat.v4.new_code_cell(probe))
    client = NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    error = None
    try:
        client.execute()
    except CellExecutionError as raised:
        error = raised
    nbformat.write(nb, path)
    return nb, error


def error_outputs(cell: nbformat.NotebookNode) -> list:
    return [out for out in cell.get("outputs", []) if out.output_type == "error"]
