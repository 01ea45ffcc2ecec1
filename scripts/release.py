"""Instructor's release job: regenerate ``release/cnn`` from ``source/cnn`` and validate the solution.

Validation executes the whole source notebook in a fresh kernel with the course's own settings (the cell
timeout of ``nbgrader_config.py``, not nbgrader's 30 s default): every cell, training included, must run
without raising, which covers every visible test. It then prints the final test accuracy each model
reached next to the figure the notebook's text promises for it, and fails when a model's training left
no accuracy or fell more than two points short of its promise. Exits non-zero when any step fails.

    python scripts/release.py [--skip-validation]
    python scripts/release.py --validate-only NOTEBOOK     (validate another copy; nothing is regenerated)
    python scripts/release.py ... --timeout SECONDS        (another cell timeout than the course's)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "cnn"
SOURCE_NOTEBOOK = ROOT / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
# The comparison cell prints "MLP     669,706 parameters   final test accuracy 0.9768".
FINAL_ACCURACY = re.compile(r"^(\w+)\s+[\d,]+ parameters\s+final test accuracy ([\d.]+)", re.M)
# A training section's text: "### Training the MLP ... Expect a test accuracy around 97%."
PROMISE = re.compile(r"###\s*Training (?:the )?(\w+).*?around (\d+(?:\.\d+)?)\s*%", re.S)
TOLERANCE = 0.02     # how far below its promise a model may end (another machine, another batch order)
MODELS = ("MLP", "LeNet", "CNN")


class ValidationError(RuntimeError):
    """The solution notebook does not do what the release promises; the message says where."""


@dataclass(frozen=True)
class Reached:
    model: str
    accuracy: float | None     # None: no final accuracy was printed (its training did not finish)
    promised: float | None     # the fraction the notebook's text promises, if it names one


def course_timeout() -> int:
    """The per-cell timeout ``nbgrader_config.py`` gives executed notebooks."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    return int(config.ExecutePreprocessor.timeout)


def generate_release() -> None:
    """Run ``nbgrader generate_assignment`` with this environment's ``bin`` on PATH (nbgrader calls alembic)."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
        cwd=ROOT, env=env, check=True,
    )


def _cell_name(cell: nbformat.NotebookNode) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    return f"cell {grade_id} ({first})" if grade_id else f"cell ({first})"


def _current(running: list[nbformat.NotebookNode]) -> str:
    """The cell that was running when execution stopped."""
    return _cell_name(running[-1]) if running else "the kernel's start, before the first cell"


def execute(notebook: Path, timeout: int) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, in the notebook's folder; raise at the first that fails."""
    nb = nbformat.read(notebook, as_version=4)
    running: list[nbformat.NotebookNode] = []
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}},
                            on_cell_execute=lambda cell, cell_index: running.append(cell))
    try:
        client.execute()
    except CellTimeoutError:
        raise ValidationError(f"{_current(running)} did not finish within the {timeout} s cell timeout") from None
    except DeadKernelError:
        raise ValidationError(f"the kernel died in {_current(running)}") from None
    except CellExecutionError as error:
        raise ValidationError(f"{_current(running)} raised {error.ename}: {error.evalue}") from None
    except Exception as error:  # noqa: BLE001 - the kernel or its connection failed: say where, without a traceback
        raise ValidationError(f"the notebook could not be run ({type(error).__name__}) in {_current(running)}"
                              ) from None
    return nb


def reached(nb: nbformat.NotebookNode) -> list[Reached]:
    """Each model's final accuracy as the notebook printed it, with the figure its text promises."""
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    finals = {name: float(value) for name, value in FINAL_ACCURACY.findall(printed)}
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    promises = {}
    for section in re.split(r"(?=^###\s)", text, flags=re.M):
        match = PROMISE.match(section.strip())
        if match:
            promises[match.group(1)] = float(match.group(2)) / 100
    return [Reached(name, finals.get(name), promises.get(name)) for name in MODELS]


def validate(notebook: Path, timeout: int) -> list[Reached]:
    """Execute ``notebook`` with a cell timeout of ``timeout`` seconds and check every model's training
    finished and kept the notebook's promise; the accuracies reached."""
    results = reached(execute(notebook, timeout))
    for result in results:
        if result.accuracy is None:
            raise ValidationError(f"the {result.model}'s training printed no final test accuracy: it did not finish")
        if result.promised is not None and result.accuracy < result.promised - TOLERANCE:
            raise ValidationError(f"the {result.model} reached {result.accuracy:.4f}, but the notebook promises "
                                  f"around {result.promised:.0%}")
    return results


def report(results: list[Reached]) -> None:
    for result in results:
        promise = f"the text promises around {result.promised:.0%}" if result.promised else "the text names no figure"
        print(f"release: {result.model:6} final test accuracy {result.accuracy:.4f} ({promise})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--skip-validation", action="store_true", help="only regenerate the release")
    which.add_argument("--validate-only", type=Path, metavar="NOTEBOOK",
                       help="only validate this copy of the source notebook (nothing is regenerated)")
    parser.add_argument("--timeout", type=int, metavar="SECONDS",
                        help="the cell timeout (default: the course's, from nbgrader_config.py)")
    args = parser.parse_args()
    timeout = args.timeout or course_timeout()
    if timeout < 1:
        print("release: --timeout must be at least 1 second", file=sys.stderr)
        return 2
    notebook = args.validate_only or SOURCE_NOTEBOOK
    if not notebook.is_file():
        print(f"release: no notebook at {notebook}", file=sys.stderr)
        return 2
    if args.validate_only is None:
        try:
            generate_release()
        except subprocess.CalledProcessError as error:
            print(f"release: nbgrader generate_assignment failed (exit {error.returncode})", file=sys.stderr)
            return 1
        print(f"release: wrote {ROOT / 'release' / ASSIGNMENT}")
        if args.skip_validation:
            return 0
    source = "the course's" if args.timeout is None else "a"
    print(f"release: executing {notebook} in a fresh kernel, every cell with {source} {timeout} s timeout "
          "(training takes minutes)...", flush=True)
    try:
        results = validate(notebook, timeout)
    except ValidationError as error:
        print(f"release: the solution does not validate: {error}", file=sys.stderr)
        return 1
    report(results)
    print("release: every cell of the solution ran, every visible test passed, every model trained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
