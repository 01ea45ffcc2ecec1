"""Grade one submission: start the sandbox, prepare while it runs, then score its artifacts."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .bounds import require_fresh_process
from .failures import GraderError
from .results import Verdict
from .sandbox.exposure import sensitive_paths
from .sandbox.isolation import Mode, choose_mode
from .sandbox.process import Ending, SandboxFailure, SandboxProcess, SandboxRun, WarmSandboxLost
from .sandbox.warm import Zygote
from .settings import Settings
from .shortage import confirmed, describe, machine_short
from .submission import Answers, SubmissionError, answer_ids, probe_seed, read_answers, sandbox_job
from .version import file_sha256, grader_version

if TYPE_CHECKING:
    from .accuracy_memo import AccuracyMemo


def grade(path: Path, settings: Settings | None = None, mnist=None, overlap: bool = True,
          isolation: str = "auto", zygote: Zygote | None = None,
          accuracy_memo: AccuracyMemo | None = None) -> Verdict:
    """Score the notebook at ``path``. A bad submission is a verdict (of 0), never an exception;
    exceptions mean the grader itself cannot run (MNIST missing, no sandbox available).

    ``mnist`` (an ``autograder.context.MnistTensors``) lets a batch share one copy of the data.
    With ``overlap`` the grader loads PyTorch, pytest and MNIST while the student's code runs, then
    each exported graph as it arrives (``head_start``), which saves time when there is a spare core;
    without it the two processes never hold memory at the same time, which halves the peak (small
    containers). ``isolation`` is a mode of
    ``sandbox.isolation`` or ``auto`` for the strongest one available. ``zygote``: a warm sandbox to
    fork the student's process from (a batch's; ``sandbox.warm``). ``accuracy_memo``: the accuracies this
    process measured before (a batch's; ``accuracy_memo``).
    """
    settings = settings or Settings()
    require_fresh_process()
    mode = choose_mode(isolation)
    started = time.monotonic()
    sandbox, unreadable, answers = None, "", Answers()
    sha256 = file_sha256(path)
    seed = probe_seed(settings.seed, sha256 or "")
    private = []
    if mode == Mode.USER:  # only permissions and Landlock guard the data there: it is checked before the sandbox starts
        from helpers.data import mnist_root

        private = sensitive_paths(path, mnist_root())
    try:
        answers = read_answers(path)
        job = sandbox_job(answers, seed)
        sandbox = SandboxProcess(job, settings.limits, mode, private, zygote)
    except SubmissionError as error:
        unreadable = str(error)
    def finish(sandbox: SandboxProcess) -> SandboxRun:
        """The run, or where the warm sandbox failed under it (never the submission's doing), a cold run."""
        try:
            return sandbox.wait()
        except WarmSandboxLost:
            return SandboxProcess(job, settings.limits, mode, private).wait()

    with contextlib.ExitStack() as stack:
        try:
            run = finish(sandbox) if sandbox and not overlap else None
            from .accuracy_memo import AccuracyMemo
            from .context import MnistTensors
            from .head_start import HeadStart
            from .scoring import checking, score

            mnist = mnist or MnistTensors()
            mnist.load()
            memo = AccuracyMemo() if accuracy_memo is None else accuracy_memo
            ready = time.monotonic() - started
            bounds = stack.enter_context(checking(settings))
            head = None
            if sandbox and overlap:
                head = HeadStart(seed)
                head.while_running(sandbox)
                run = finish(sandbox)
        except BaseException:
            if sandbox:
                sandbox.discard()
            raise
        if run is not None:
            _unless_too_small(run, job)
            run = _unless_machine_short(run, settings.limits.processes,
                                        lambda: finish(SandboxProcess(job, settings.limits, mode, private, zygote)))
        verdict = score(path, run, unreadable, answers, settings, mnist, started, seed, memo, bounds, head)
    verdict.details["stages"] = {"grader start": round(ready, 2), **verdict.details["stages"]}
    confinement = run.isolation if run else {"mode": mode, "description": "nothing was run"}
    verdict.provenance = {"notebook_sha256": sha256, "grader_version": grader_version(),
                          "isolation": confinement}
    return verdict


def _unless_too_small(run: SandboxRun, job: dict) -> None:
    """Raise where the sandbox ran out of memory (its own limit, or a container's around the grader) before
    its first report, in the assignment's own first cell: none of the submission's code had run, so the
    machine is too small for this grading, which is no fault of the submission."""
    if run.ended == Ending.MEMORY and not (run.folder / "report.json").exists() \
            and job["cells"][0]["id"] not in answer_ids():
        shutil.rmtree(run.folder, ignore_errors=True)
        raise SandboxFailure(
            "the sandbox ran out of memory in the assignment's own first cell, before any of the submission's code "
            "ran: the machine is too small for this grading; give it more memory (or, in a grading image, "
            "PyTorch's CPU-only wheels)")


def _unless_machine_short(run: SandboxRun, allowance: int, again: Callable[[], SandboxRun]) -> SandboxRun:
    """``run``, or when it failed for want of tasks it had not used up (``shortage``) a second run of the
    same job; a second such failure, where the grader saw the machine short of tasks, is a grader error,
    not the submission's lost points."""
    if not machine_short(run, allowance):
        return run
    shutil.rmtree(run.folder, ignore_errors=True)
    second = again()
    if machine_short(second, allowance) and confirmed(run, second):
        shutil.rmtree(second.folder, ignore_errors=True)
        raise GraderError(describe(second, allowance))
    return second
