"""The batch's side of its worker protocol, against a stand-in worker: a reply marked ``spent`` (the
worker's memory bound was reached) still counts, and the next submission gets a new process."""

from __future__ import annotations

import json
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


# The real worker, grading with a stand-in that leaves what parsing a large record leaves: 300 MB freed on
# the C heap below a small allocation that outlives the grading, so the heap cannot shrink by itself; with
# "cyclic", the 300 MB are left in a reference cycle (as graph modules leave theirs), which only a garbage
# collection frees. "untrimmed" takes the release away; "trim only" releases without collecting.
HEAP_LEFT_OVER = """
import ctypes
import sys
import autograder.batch.worker as worker
from autograder.results import Verdict

kept = []
release, garbage = sys.argv.pop(1), sys.argv.pop(1)


def grading(path, **_):
    freed = [bytearray(1000) for _ in range(300_000)]
    if garbage == "cyclic":
        freed.append(freed)
    kept.append(bytearray(1000))
    del freed
    return Verdict(str(path), [])


worker.grade = grading
if release == "untrimmed":
    worker.release_freed_memory = lambda: None
elif release == "trim only":
    worker.release_freed_memory = lambda: ctypes.CDLL("libc.so.6").malloc_trim(0)
worker.main()
"""


def _resident_after_one_grading(tmp_path: Path, release: str, garbage: str = "plain") -> int:
    worker = subprocess.Popen([sys.executable, "-c", HEAP_LEFT_OVER, release, garbage, "none"], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert worker.stdin and worker.stdout
        results = tmp_path / f"{release}-{garbage}.json".replace(" ", "-")
        worker.stdin.write(f'{{"notebook": "a.ipynb", "results": "{results}"}}\n')
        worker.stdin.flush()
        assert "results" in json.loads(worker.stdout.readline())
        status = Path(f"/proc/{worker.pid}/status").read_text().splitlines()
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_hands_back_what_a_grading_freed(tmp_path: Path) -> None:
    """What one grading freed does not stay with the worker into the next (``bounds.release_freed_memory``
    after every reply): without it, the same grading leaves 300 MB resident."""
    trimmed = _resident_after_one_grading(tmp_path, "trimmed")
    untrimmed = _resident_after_one_grading(tmp_path, "untrimmed")
    assert untrimmed - trimmed > 200 * 1024**2, (trimmed, untrimmed)


def test_a_worker_hands_back_what_a_grading_left_in_reference_cycles(tmp_path: Path) -> None:
    """Garbage in reference cycles is collected before the heap is handed back: trimming alone leaves it."""
    collected = _resident_after_one_grading(tmp_path, "trimmed", "cyclic")
    trimmed_only = _resident_after_one_grading(tmp_path, "trim only", "cyclic")
    assert trimmed_only - collected > 200 * 1024**2, (collected, trimmed_only)
