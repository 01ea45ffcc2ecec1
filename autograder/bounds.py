"""The grader's own limits while it checks one submission's artifacts.

Every step the checks take is costed before it runs (``artifacts``, ``operators.call_cost``) and
training has its own CPU budget; these limits stand behind that costing, so that a mistake in it, or an
artifact it did not foresee, costs that submission a verdict and never the grader or a classmate:

* memory: while the grader loads and checks a submission's artifacts (from the first graph it loads
  while the sandbox still runs, ``head_start``), its address space may grow by at most ``memory_bytes``
  (``RLIMIT_AS``; a sandbox it starts meanwhile does not inherit it: ``address_space_outside``); an
  allocation beyond it fails where it was asked for: inside a check, which then fails with the reason,
  an early load, which the check then repeats, or the threads that read and watch the sandbox, which
  then end its run (only a submission's own artifacts bring the grader near its bound). Some libraries
  do not recover from a refused allocation (oneDNN creates no new primitive afterwards), so a process
  where one was refused is *spent*: it grades nothing more (``require_fresh_process``), and a batch
  replaces its worker. A refusal is noticed three ways: a
  check's error (or its cause) is one, the address space reached a new peak near the bound, or, once
  the bound is lifted, oneDNN cannot create a primitive it has never made;
* time: the checks of one submission together get at most ``cpu_seconds`` of the grader's CPU time;
  training stops when it is spent, and every check that starts after that fails at once.

A process whose grader classes a grading changed (``tamper``) is spent as well (``retire``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import resource
import threading
import time
from collections.abc import Iterator

from .failures import GraderError


class BudgetSpent(AssertionError):
    """A check that could not run within the grader's bounds for one submission (its reason)."""


class CheckBudget:
    """The CPU time left to one submission's checks."""

    def __init__(self, cpu_seconds: float) -> None:
        self.cpu_seconds = cpu_seconds
        self.deadline = time.process_time() + cpu_seconds

    def left(self) -> float:
        return self.deadline - time.process_time()

    def require_time(self) -> None:
        if self.left() <= 0:
            raise BudgetSpent(f"not checked: the grader's {self.cpu_seconds:g} s of CPU time for one submission "
                              "were spent on the checks before it")


# How a refused allocation shows: Python's MemoryError, PyTorch's allocator, oneDNN's primitive creation.
_REFUSALS = ("can't allocate memory", "could not create a primitive")
_SPENT = [""]   # why this process grades no more, once it does not
MEMORY_SPENT = "reached the grader's memory bound"


def refused_memory(error: BaseException | None) -> bool:
    """Whether ``error``, or an exception it was raised from or while handling, is a refused allocation
    (checks rephrase their errors, ``from None`` included: the original stays the context). An error
    raised once the address space has reached the bound counts as one too, whatever it says: a refusal
    deep in a library can surface as any error (PyTorch's zip reader reports a file it cannot read).
    Noting one marks this process spent."""
    if error is not None and _bound_reached():
        retire(MEMORY_SPENT)
        return True
    for _ in range(20):
        if error is None:
            return False
        if isinstance(error, MemoryError) or any(text in str(error) for text in _REFUSALS):
            retire(MEMORY_SPENT)
            return True
        error = error.__cause__ or error.__context__
    return False


def retire(reason: str) -> None:
    """Mark this process spent for ``reason``, what an earlier grading did (``MEMORY_SPENT``, ``tamper``)."""
    _SPENT[0] = reason


def require_fresh_process() -> None:
    """Refuse to grade in a process that reached its memory bound, or whose grader was changed, before
    (see the module's docstring and ``tamper``)."""
    if _SPENT[0]:
        raise GraderError(f"an earlier grading in this process {_SPENT[0]}; grade in a new process")


def spent() -> bool:
    return bool(_SPENT[0])


def release_freed_memory() -> None:
    """Free what one grading left in reference cycles (graph modules hold many), then hand the heap it
    freed back to the system (glibc keeps it otherwise), so that a process grading many submissions
    does not carry one's peak into the next."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


_NEAR = 64 * 1024**2   # a peak this close to the bound counts as reaching it


def _start_pytorch_threads() -> None:
    """PyTorch starts its worker and autograd threads on first use, and each reserves address space
    (a stack, a malloc arena) that honest checks would otherwise be charged for."""
    import torch  # here: the engine imports this module before it starts the sandbox, PyTorch after

    weights = torch.rand(256, 256, requires_grad=True)
    (weights @ weights).relu().sum().backward()


def _new_primitives_work() -> bool:
    """Whether oneDNN still creates primitives: a convolution of a shape this process never ran before
    (a cached primitive would work even where creating one no longer does)."""
    import torch

    _CANARIES[0] += 1
    try:
        torch.nn.functional.conv2d(torch.ones(1, 2, 9, 8 + _CANARIES[0]), torch.ones(3, 2, 3, 3))
    except RuntimeError:
        return False
    return True


_LOCK = threading.Lock()
_HOLDERS = [0]
_CANARIES = [0]
_BOUND: list[tuple[int, int] | None] = [None]   # the active bound and the high-water mark before it
_OUTSIDE: list[tuple[int, int] | None] = [None]  # the address-space limits the bound replaced


def address_space_outside() -> tuple[int, int]:
    """The process's address-space limits outside any bound: what a process it starts inside one (a
    sandbox the grader has to start again while it checks, ``engine``) must have instead of the bound."""
    with _LOCK:
        return _OUTSIDE[0] or resource.getrlimit(resource.RLIMIT_AS)


def _bound_reached() -> bool:
    """Whether the address space is within ``_NEAR`` of the active bound, or came that close since it was
    set (the high-water mark tells only where it rose above the one before the bound)."""
    bound = _BOUND[0]
    if bound is None:
        return False
    limit, peak_before = bound
    peak = _status_bytes("VmPeak")
    return (peak > peak_before and peak > limit - _NEAR) or _status_bytes("VmSize") > limit - _NEAR


@contextlib.contextmanager
def memory_bound(memory_bytes: int) -> Iterator[None]:
    """Let the process's address space grow by at most ``memory_bytes`` inside the block (or less, where
    a lower limit was already set). A block entered while another holds the bound (nested, or in
    another thread) runs under that one's bound, which the first block lifts when it leaves."""
    with _LOCK:   # the count changes only once the bound is set: a failed set-up leaves none behind
        outer = _HOLDERS[0] == 0
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if outer:
            _start_pytorch_threads()
            limit = min([_status_bytes("VmSize") + memory_bytes,
                         *(bound for bound in (soft, hard) if bound != resource.RLIM_INFINITY)])
            peak_before = _status_bytes("VmPeak")   # the process's high-water mark, which may predate the block
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
            _BOUND[0], _OUTSIDE[0] = (limit, peak_before), (soft, hard)
        _HOLDERS[0] += 1
    try:
        yield
    finally:
        with _LOCK:
            _HOLDERS[0] -= 1
            if outer:
                reached = _bound_reached()
                _BOUND[0] = _OUTSIDE[0] = None
                resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
                if reached or not _new_primitives_work():
                    retire(MEMORY_SPENT)   # an allocation may have been refused where no check saw it
