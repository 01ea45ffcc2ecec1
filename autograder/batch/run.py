"""Grading a list of submissions, several at a time, by long-lived grading processes."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..failures import LOG_NAME
from ..paths import ROOT
from ..settings import Settings
from .discover import Submission


@dataclass
class Outcome:
    submission: Submission
    results: dict | None        # Gradescope-schema results, None when grading failed
    error: str = ""                # why grading failed (the grader could not run)
    skipped: bool = False          # graded by an earlier run
    seconds: float = 0.0           # wall time of this run's grading (0 when skipped)


def _threads_per_job(jobs: int) -> int:
    return max(1, (os.cpu_count() or 1) // jobs)


class Worker:
    """A grading process (``autograder.batch.worker``) kept for many submissions, started when first
    needed and again after it was stopped or died."""

    def __init__(self, threads: int, isolation: str, log_folder: Path) -> None:
        self.threads, self.isolation, self.log = threads, isolation, log_folder / LOG_NAME
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        """The process, its errors appended to the course's log (a traceback must outlive the process)."""
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        with open(self.log, "a") as errors:
            return subprocess.Popen([sys.executable, "-m", "autograder.batch.worker", self.isolation,
                                     str(self.log.parent)], cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=errors, start_new_session=True)

    def grade(self, submission: Submission, timeout: float) -> Outcome:
        """Grade one submission; its results file appears atomically."""
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"notebook": str(submission.notebook), "results": str(submission.results)}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            return self._died(submission)
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return Outcome(submission, None, f"grading took longer than {timeout:.0f} s")
        line = self.process.stdout.readline()
        if not line:
            return self._died(submission)
        reply = json.loads(line)
        if reply.get("spent"):   # it may grade no more: the next submission gets a new process
            self.stop()
        if "error" in reply:
            return Outcome(submission, None, reply["error"])
        return Outcome(submission, reply["results"])

    def _died(self, submission: Submission) -> Outcome:
        assert self.process is not None
        status = self.process.wait()
        self.process = None
        return Outcome(submission, None,
                       f"the grading process died (exit status {status}); its last words are in {self.log}")

    def stop(self) -> None:
        """Kill the process at once (its sandbox dies with it); the next submission starts a new one."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


def grade_all(
    submissions: list[Submission],
    jobs: int,
    force: bool,
    on_done: Callable[[Outcome], None],
    isolation: str = "auto",
    timeout: float = Settings().submission_seconds,
    log_folder: Path | None = None,
) -> list[Outcome]:
    """Grade what is not graded yet (everything with ``force``), ``jobs`` at a time, in student order."""
    outcomes: dict[str, Outcome] = {}
    todo = []
    for submission in submissions:
        earlier = None if force else submission.earlier_results()
        if earlier is not None:
            outcomes[submission.student] = Outcome(submission, earlier, skipped=True)
            on_done(outcomes[submission.student])
        else:
            todo.append(submission)
    log_folder = log_folder or Path(tempfile.gettempdir())
    workers = [Worker(_threads_per_job(jobs), isolation, log_folder) for _ in range(min(jobs, len(todo)))]
    idle: queue.Queue[Worker] = queue.Queue()
    for worker in workers:
        idle.put(worker)

    def grade_one(submission: Submission) -> Outcome:
        worker = idle.get()
        started = time.monotonic()
        try:
            outcome = worker.grade(submission, timeout)
        finally:
            idle.put(worker)
        outcome.seconds = time.monotonic() - started
        return outcome

    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(grade_one, s) for s in todo]
    try:
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.submission.student] = outcome
            on_done(outcome)
    finally:  # also on Ctrl-C: stop the gradings in flight; finished results are already complete
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.stop()
    return [outcomes[s.student] for s in submissions]


def progress_bar(total: int) -> Callable[[Outcome], None]:
    """A tqdm bar on stderr (count, elapsed and remaining time, rate); each finished submission advances
    it and shows the student's score. Returns the callback, which closes the bar after the last one."""
    bar = tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True, mininterval=0)

    def update(outcome: Outcome) -> None:
        state = ("skipped" if outcome.skipped
                 else "FAILED" if outcome.results is None else f"{outcome.results['score']:g}")
        bar.set_postfix_str(f"{outcome.submission.student}: {state}", refresh=False)
        bar.update(1)
        if bar.n >= total:
            bar.close()
    return update
