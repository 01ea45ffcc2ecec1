"""The batch's side of its worker protocol, against a stand-in worker: a reply marked ``spent`` (the
worker's memory bound was reached) still counts, and the next submission gets a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autograder.batch.discover import Submission
from autograder.batch.run import Worker

# Answers every request with results, says it is spent, then lingers: the batch must not wait for it.
STAND_IN = """
import json, os, sys, time
request = json.loads(sys.stdin.readline())
print(json.dumps({"results": {"score": os.getpid()}, "spent": True}), flush=True)
time.sleep(600)
"""


class StandInWorker(Worker):
    def _start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", STAND_IN], text=True, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, start_new_session=True)


def test_a_spent_worker_is_replaced_and_its_reply_counts(tmp_path: Path) -> None:
    worker = StandInWorker(1, "none", tmp_path)
    submission = Submission("ada", tmp_path / "a.ipynb", tmp_path / "results.json", tmp_path / "feedback")
    first = worker.grade(submission, timeout=60)
    assert first.results is not None and not first.error
    assert worker.process is None                      # stopped at once, not left to linger
    second = worker.grade(submission, timeout=60)
    assert second.results is not None and second.results["score"] != first.results["score"]   # a new process
    worker.stop()
