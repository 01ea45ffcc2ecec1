"""Grade one submission: start the sandbox, prepare while it runs, then score its artifacts."""

from __future__ import annotations

import time
from pathlib import Path

from .results import Verdict
from .sandbox.process import SandboxProcess
from .settings import Settings
from .submission import SubmissionError, read_answers, sandbox_job


def grade(path: Path, settings: Settings | None = None, mnist=None, overlap: bool = True) -> Verdict:
    """Score the notebook at ``path``. A bad submission is a verdict (of 0), never an exception;
    exceptions mean the grader itself cannot run (for example MNIST is missing).

    ``mnist`` (an ``autograder.context.MnistTensors``) lets a batch share one copy of the data.
    With ``overlap`` the grader loads PyTorch, pytest and MNIST while the student's code runs, which
    saves time when there is a spare core; without it the two processes never hold memory at the
    same time, which halves the peak (small containers).
    """
    settings = settings or Settings()
    started = time.monotonic()
    sandbox, unreadable = None, ""
    try:
        sandbox = SandboxProcess(sandbox_job(read_answers(path), settings), settings.limits)
    except SubmissionError as error:
        unreadable = str(error)
    try:
        run = sandbox.wait() if sandbox and not overlap else None
        from .context import MnistTensors
        from .scoring import score

        mnist = mnist or MnistTensors()
        mnist.load()
        if sandbox and overlap:
            run = sandbox.wait()
    except BaseException:
        if sandbox:
            sandbox.kill("stopped")
        raise
    return score(path, run, unreadable, settings, mnist, started)
