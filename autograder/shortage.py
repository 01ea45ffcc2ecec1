"""Whose fault it is when the sandbox could not start a process or thread.

``fork`` and ``pthread_create`` fail with EAGAIN ("Resource temporarily unavailable"; Python's "can't
start new thread") when the sandbox used its own allowance of tasks, and also when the machine ran out:
the kernel's task tables, the task limits of a container or cgroup the grader itself runs in, or (in
bubblewrap's user namespace) the tasks the grader's whole uid may run. The first costs the student the
checks that needed the step; the second is the grader's failure, and a verdict under load must be the
verdict on a quiet machine.

What the sandbox says is only the trigger, and it can be forged: whose fault it was is decided from the
grader's own readings. The most tasks of the sandbox's own processes the watchdog counted in ``/proc``
(``SandboxRun.most_tasks``): at its allowance, the sandbox used it up. Below it, the grading is run again
(a burst of the machine's other work may have come and gone between two readings). A second such
failure is a grader error (no verdict) only where the grader saw the machine short of tasks itself
(``SandboxRun.tasks_scarce``: the enclosing cgroup's pids limit refused one, or the room left on the
machine or the grader's uid fell below the sandbox's allowance); otherwise the verdict stands, with a
note. A forged error thus earns a second run that fails the same way, never a grader error.
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


def confirmed(*runs: SandboxRun) -> bool:
    """Whether the grader saw the machine short of tasks during any of ``runs``."""
    return any(run.tasks_scarce for run in runs)


def unconfirmed_note(run: SandboxRun, allowance: int) -> str | None:
    """The note on a verdict that stands although a step failed for want of tasks below the allowance."""
    if not machine_short(run, allowance):
        return None
    return (f"a step failed for want of a process or thread (Resource temporarily unavailable) while the sandbox "
            f"ran at most {run.most_tasks} of its {allowance}, twice; the grader did not see the machine short of "
            "them, so the verdict stands (staff can grade it again)")


def describe(run: SandboxRun, allowance: int) -> str:
    """What the grader reports when the machine refused the sandbox tasks twice."""
    return (f"the machine could not give the sandbox a process or thread (Resource temporarily unavailable) "
            f"while it ran at most {run.most_tasks} of its {allowance}, twice in a row; other work on this "
            "machine (or the task limit of the container or user the grader runs as) left it none: grade "
            "this submission again when the machine is less busy, or raise that limit")
