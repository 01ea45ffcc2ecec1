"""Grade one Gradescope submission: ``run_autograder`` calls ``python3 -m autograder.gradescope.run ROOT``.

ROOT is Gradescope's ``/autograder``: the student's files are in ``ROOT/submission`` and the results
go to ``ROOT/results/results.json``. Whatever happens, a results file is written, so the student
sees a reason rather than Gradescope's bare "the autograder failed".
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from ..engine import grade
from ..results import write_json_atomically
from ..sandbox.process import Limits
from ..settings import Settings
from ..submission import ASSIGNMENT_NOTEBOOK, SubmissionError
from .container import cpu_limit, memory_limit

MB = 1024**2
GRADER_RESERVE = 192 * MB       # what the grader process keeps while the sandbox runs
OVERLAP_MEMORY = 2048 * MB      # enough for the grader and the sandbox at their peaks together


def find_notebook(folder: Path, name: str = ASSIGNMENT_NOTEBOOK.name) -> Path:
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


def not_graded(reason: str) -> dict:
    """Gradescope results for a run that graded nothing."""
    return {"score": 0, "output": reason, "tests": []}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m autograder.gradescope.run", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    root = parser.parse_args(argv).root
    results = root / "results" / "results.json"
    try:
        notebook = find_notebook(root / "submission")
    except SubmissionError as error:
        print(f"autograder: {error}", file=sys.stderr)
        write_json_atomically(results, not_graded(f"Not graded: {error}."))
        return 0
    memory, cpus = memory_limit(), cpu_limit()
    if cpus:
        os.environ["OMP_NUM_THREADS"] = str(max(1, int(cpus)))  # PyTorch would start one thread per host core
    overlap = (memory is None or memory >= OVERLAP_MEMORY) and (cpus is None or cpus >= 2)
    try:
        verdict = grade(notebook, container_settings(memory, cpus), overlap=overlap)
    except (OSError, RuntimeError) as error:  # the grader itself cannot run: not the student's fault
        print(f"autograder: cannot grade: {error}", file=sys.stderr)
        write_json_atomically(results, not_graded(
            "The autograder could not run, through no fault of your submission. Please tell course staff: "
            "your submission is kept and can be graded again."))
        return 2
    write_json_atomically(results, verdict.gradescope())
    print(verdict.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
