"""The grader's memory bound in-process (``autograder.bounds``): it refuses what goes past it, it is
lifted afterwards, and only a refusal spends the process, not a high-water mark from before the block.
Each case runs in a fresh interpreter, since a refusal spends the process it happens in."""

from __future__ import annotations

import resource
import subprocess
import sys
import threading

import pytest

CASE = """
import mmap, resource
from autograder import bounds
before = resource.getrlimit(resource.RLIMIT_AS)
# an earlier high-water mark: 6 GB of address space reserved, then given back
mmap.mmap(-1, 6 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x4000, prot=0).close()   # PROT_NONE
with bounds.memory_bound(1 << 30):
    small = bytearray(100 << 20)
    try:
        bytearray(2 << 30)
        refused = False
    except MemoryError as error:
        refused = bounds.refused_memory(error)
print(refused if {refuse} else 'none', bounds.spent(), resource.getrlimit(resource.RLIMIT_AS) == before)
"""


def outcome(refuse: bool) -> str:
    code = CASE if refuse else CASE.replace("        bytearray(2 << 30)\n", "")
    result = subprocess.run([sys.executable, "-c", code.format(refuse=refuse)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_an_earlier_high_water_mark_does_not_spend_the_process():
    assert outcome(refuse=False) == "none False True"


def test_a_refusal_fails_the_allocation_spends_the_process_and_the_limit_is_lifted():
    assert outcome(refuse=True) == "True True True"


SANDBOX_CASE = """
import os, resource, sys, tempfile
from autograder import bounds
from autograder.sandbox.isolation import Mode, Plan
from autograder.sandbox.launch import start_confined
from autograder.sandbox.process import Limits
before = resource.getrlimit(resource.RLIMIT_AS)
read_end, write_end = os.pipe()
plan = Plan(Mode.NONE, [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_AS))"],
            tempfile.gettempdir(), dict(os.environ), None, "a process started as the sandbox is")
with bounds.memory_bound(1 << 30), tempfile.TemporaryFile() as out:
    bounded = resource.getrlimit(resource.RLIMIT_AS)
    start_confined(plan, Limits(), write_end, 0, out, out).wait()
    out.seek(0)
    print(bounded != before, out.read().decode().strip() == str(before))
"""


def test_a_sandbox_started_while_the_bound_holds_gets_the_graders_own_limits():
    """The grader may start a sandbox again while its bound on the checks holds (a warm sandbox that failed
    under a submission, a machine short of tasks): that sandbox must not inherit the bound."""
    result = subprocess.run([sys.executable, "-c", SANDBOX_CASE], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True True"


def test_a_bound_that_could_not_be_set_leaves_none_behind(monkeypatch):
    """A failed set-up (here PyTorch's threads) must not count as a holder: the next block, the next
    grading's in a batch worker, would run under no bound at all."""
    from autograder import bounds

    def cannot_start() -> None:
        raise RuntimeError("can't start new thread")
    with monkeypatch.context() as patched:
        patched.setattr(bounds, "_start_pytorch_threads", cannot_start)
        with pytest.raises(RuntimeError), bounds.memory_bound(1 << 30):
            pass
    before = resource.getrlimit(resource.RLIMIT_AS)
    with bounds.memory_bound(8 << 30):
        inside = resource.getrlimit(resource.RLIMIT_AS)
    assert inside != before and resource.getrlimit(resource.RLIMIT_AS) == before


def test_a_training_thread_that_cannot_start_leaves_no_thread_waiting(monkeypatch):
    """Where the machine refuses the second training thread, the first must not wait for it for ever
    (the pool's shutdown would wait on it, and the grading with it)."""
    from concurrent.futures import ThreadPoolExecutor

    from autograder import scoring

    submitted = []
    real = ThreadPoolExecutor.submit

    def refuse_the_second(self, *args, **kwargs):
        submitted.append(args)
        if len(submitted) == 2:
            raise RuntimeError("can't start new thread")
        return real(self, *args, **kwargs)
    monkeypatch.setattr(ThreadPoolExecutor, "submit", refuse_the_second)
    outcome: list[str] = []

    def enter() -> None:
        try:
            with scoring.trainer():
                outcome.append("entered")
        except RuntimeError as error:
            outcome.append(str(error))
    attempt = threading.Thread(target=enter, daemon=True)
    attempt.start()
    attempt.join(60)
    assert outcome == ["can't start new thread"]
