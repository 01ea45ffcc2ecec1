"""Grade the notebook a student uploaded to a platform, inside that platform's container.

Gradescope's and PrairieLearn's runners differ only in where the files are and how the outcome is
written; finding the notebook, hiding the grader's files from the sandbox, fitting the sandbox to the
container and telling the student's mistakes from the grader's faults happen here, once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from ..failures import expected, report
from ..paths import RELEASE_NOTEBOOK
from ..results import Verdict
from ..sandbox.isolation import Mode
from ..sandbox.process import Limits
from ..settings import Settings
from ..submission import SubmissionError, read_answers
from .container import cpu_limit, memory_limit

MB = 1024**2
GRADER_RESERVE = 192 * MB       # what the grader process keeps while the sandbox runs
OVERLAP_MEMORY = 2048 * MB      # enough for the grader and the sandbox at their peaks together
FAULT_MESSAGE = ("The autograder could not run, through no fault of your submission. Please tell course staff: "
                 "your submission is kept and can be graded again.")


@dataclass
class Outcome:
    """Exactly one of: a verdict; why the upload cannot be graded (the student's to fix); a grader fault."""

    verdict: Verdict | None = None
    not_gradable: str = ""
    fault: str = ""


def entry_point_arguments(prog: str, description: str, root: Path, argv: list[str] | None) -> argparse.Namespace:
    """What every platform's entry point takes: the platform's tree (``root`` by default) and the sandbox."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("root", type=Path, nargs="?", default=root)
    parser.add_argument("--isolation", choices=("auto", Mode.BUBBLEWRAP.value, Mode.USER.value), default="auto",
                        help="the sandbox to use (default: the strongest this container allows)")
    parser.add_argument("--grader-killed", type=int, metavar="SIGNAL",
                        help="only write the results of a grader fault: the entry point's grading was killed by "
                             "SIGNAL (the container's memory limit, as a rule)")
    return parser.parse_args(argv)


def killed_note(number: int) -> str:
    """For the job's log, where staff read it: which signal killed the grader, and the likely cure."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    cure = (": the container's memory limit, as a rule; give the assignment a larger container, or build the image "
            "with PyTorch's CPU-only wheels (install.sh's default)") if number == signal.SIGKILL else ""
    return f"autograder: the grader was killed by {name}{cure}"


def find_notebook(folder: Path, name: str = RELEASE_NOTEBOOK.name) -> Path:
    """The notebook to grade: the one called ``name``, or else the only notebook uploaded."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    named = [p for p in notebooks if p.name == name]
    if len(named) == 1:
        return named[0]
    if not named and len(notebooks) == 1:
        return notebooks[0]
    if not notebooks:
        raise SubmissionError(f"the submission holds no notebook: upload your {name}")
    listed = ", ".join(str(p.relative_to(folder)) for p in notebooks)
    raise SubmissionError(f"the submission holds several notebooks ({listed}): upload only your {name}")


def container_settings(memory: int | None, cpus: float | None) -> Settings:
    """The sandbox's limits in this container: the memory the waiting grader leaves it, and time
    limits stretched where the container has less than the one CPU the defaults assume."""
    base = Limits()
    slower = max(1.0, 1.0 / cpus) if cpus else 1.0
    limits = replace(
        base,
        total_seconds=base.total_seconds * slower,
        cell_seconds=base.cell_seconds * slower,
        phase_seconds=base.phase_seconds * slower,
        memory_bytes=min(base.memory_bytes, memory - GRADER_RESERVE) if memory else base.memory_bytes,
    )
    return Settings(limits=limits)


def close_to_sandbox(folders: Iterable[Path]) -> None:
    """Make each existing folder reachable by its owner only: the separate-user sandbox, the one these
    containers allow, can read whatever other users may, and must not read the grader, the data, the
    submission or the results."""
    for folder in folders:
        if folder.is_dir():
            folder.chmod(folder.stat().st_mode & 0o700)


def grade_upload(folder: Path, isolation: str = "auto") -> Outcome:
    """Grade the notebook uploaded into ``folder`` in this container; never raises."""
    try:
        notebook = find_notebook(folder)
        read_answers(notebook)   # a file that is not the assignment's notebook is the student's to fix
    except SubmissionError as error:
        return Outcome(not_gradable=str(error))
    memory, cpus = memory_limit(), cpu_limit()
    if cpus:
        os.environ["OMP_NUM_THREADS"] = str(max(1, int(cpus)))  # PyTorch would start one thread per host core
    overlap = (memory is None or memory >= OVERLAP_MEMORY) and (cpus is None or cpus >= 2)
    try:
        from ..engine import grade  # imports PyTorch: a missing installation is a fault reported like any other

        return Outcome(verdict=grade(notebook, container_settings(memory, cpus), overlap=overlap,
                                     isolation=isolation))
    except Exception as error:  # noqa: BLE001 - whatever stops the grader, the student must get a result
        print(f"autograder: {report(error)}", file=sys.stderr)
        if not expected(error):  # the platform keeps the output: the traceback is found there
            traceback.print_exception(type(error), error, error.__traceback__)
        return Outcome(fault=str(error))
