"""Grading a list of submissions, several at a time, each in its own grading process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .discover import Submission

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    submission: Submission
    results: Optional[dict]        # Gradescope-schema results, None when grading failed
    error: str = ""                # why grading failed (the grader could not run)
    skipped: bool = False          # graded by an earlier run


def _threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


def grade_in_process(submission: Submission, threads: int, timeout: float, running: set) -> Outcome:
    """Run ``python -m autograder grade`` for one submission; its results file appears atomically.
    The child is listed in ``running`` while it runs, so an interrupted batch can stop it at once."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "autograder", "grade", str(submission.notebook), "--json", str(submission.results)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    running.add(process)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return Outcome(submission, None, f"grading took longer than {timeout:.0f} s")
    finally:
        running.discard(process)
    if process.returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return Outcome(submission, None, lines[-1] if lines else f"grader exited with {process.returncode}")
    return Outcome(submission, json.loads(submission.results.read_text()))


def grade_all(
    submissions: list[Submission],
    jobs: int,
    force: bool,
    on_done: Callable[[Outcome], None],
    timeout: float = 600.0,
) -> list[Outcome]:
    """Grade what is not graded yet (everything with ``force``), ``jobs`` at a time, in student order."""
    outcomes: dict[str, Outcome] = {}
    todo = []
    for submission in submissions:
        if not force and submission.is_graded():
            outcomes[submission.student] = Outcome(submission, json.loads(submission.results.read_text()), skipped=True)
            on_done(outcomes[submission.student])
        else:
            todo.append(submission)
    threads, running = _threads_per_job(jobs), set()
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(grade_in_process, s, threads, timeout, running) for s in todo]
    try:
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.submission.student] = outcome
            on_done(outcome)
    except BaseException:  # Ctrl-C: stop the gradings in flight; finished results are already complete
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list(running):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        raise
    pool.shutdown()
    return [outcomes[s.student] for s in submissions]


class Progress:
    """A one-line progress bar on stderr: count, elapsed time and an estimate of the time left."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0
        width = 30
        filled = int(width * self.done / max(self.total, 1))
        state = "skipped" if outcome.skipped else ("FAILED" if outcome.results is None else f"{outcome.results['score']:g}")
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}  "
                          f"elapsed {_clock(elapsed)}  left ~{_clock(left)}  {outcome.submission.student}: {state}   ")
        self.stream.flush()
        if self.done == self.total:
            self.stream.write("\n")


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"
