"""Whose fault it is when the sandbox could not start a process or thread.

``fork`` and ``pthread_create`` fail with EAGAIN ("Resource temporarily unavailable"; Python's "can't
start new thread") when the sandbox used its own allowance of tasks, and also when the machine ran out:
the kernel's task tables, the task limits of a container or cgroup the grader itself runs in, or (in
bubblewrap's user namespace) the tasks the grader's whole uid may run. The first costs the student the
checks that needed the step; the second is the grader's failure, and a verdict under load must be the
verdict on a quiet machine.

What the sandbox says is only the trigger, and it can be forged: whose fault it was is decided from the
grader's own reading, the most tasks of the sandbox's own processes the watchdog counted in ``/proc``
(``SandboxRun.most_tasks``). Below the sandbox's allowance, the sandbox did not use it up, so the machine
refused it. A forged error or a burst of tasks that came and went between two readings earns nothing by
this: the grading is run again, and a second such run is a grader error (no verdict), never a score.
"""

from __future__ import annotations

from .report import load_report
from .sandbox.process import Ending, SandboxRun

# How an EAGAIN from fork, clone or pthread_create reads in a Python traceback or a C++ abort message.
MARKERS = ("resource temporarily unavailable", "can't start new thread", "eagain")


def _says_short(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in MARKERS)


def failed_for_want_of_tasks(run: SandboxRun) -> bool:
    """Whether a step of the run failed with an EAGAIN-class error: a phase's recorded error, or the last
    words of a run that did not finish."""
    phases = load_report(run.folder / "report.json").get("phases", {})
    if any(_says_short(phase.get("error") or "") for phase in phases.values()):
        return True
    return run.ended not in (Ending.FINISHED, Ending.NOT_RUN) and _says_short(run.stderr_tail)


def machine_short(run: SandboxRun, allowance: int) -> bool:
    """Whether the run failed for want of tasks while its own count, as the grader read it, stayed below
    its ``allowance``: the machine's fault, not the submission's."""
    return failed_for_want_of_tasks(run) and run.most_tasks < allowance


def describe(run: SandboxRun, allowance: int) -> str:
    """What the grader reports when the machine refused the sandbox tasks twice."""
    return (f"the machine could not give the sandbox a process or thread (Resource temporarily unavailable) "
            f"while it ran at most {run.most_tasks} of its {allowance}, twice in a row; other work on this "
            "machine (or the task limit of the container or user the grader runs as) left it none: grade "
            "this submission again when the machine is less busy, or raise that limit")
