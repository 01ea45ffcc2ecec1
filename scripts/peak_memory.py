"""Peak memory of a running command and all it starts, sampled from /proc (for benchmarks).

Each process counts its proportional share of the pages it maps (``Pss``, plus its share of swap): a page
that several processes share (a warm sandbox and the child it forked, the libraries every process maps)
counts once in all, as the machine holds it, where a sum of resident sizes would count it per process."""

from __future__ import annotations

import threading

from autograder.sandbox.isolation import child_pids, process_tree
from autograder.sandbox.process import resident_bytes

MB = 1024**2


def proportional_bytes(pid: int) -> int:
    """``pid``'s proportional share of memory, its resident size where that cannot be read; 0 once gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return sum(int(line.split()[1]) * 1024 for line in rollup if line.startswith(("Pss:", "SwapPss:")))
    except (OSError, ValueError, IndexError):
        return resident_bytes(pid)


def tree_bytes(pid: int) -> int:
    return sum(map(proportional_bytes, process_tree(pid)))


class PeakMemory:
    """Samples a process tree every ``interval`` seconds until :meth:`stop`.

    ``total`` is the peak of the whole tree's memory at one moment (what a container must hold);
    ``per_child`` the peak of each direct child's own subtree (one grading of a batch).
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.total = 0
        self.per_child: dict[int, int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.wait(self.interval):
            self.total = max(self.total, tree_bytes(self.pid))
            for child in child_pids(self.pid):
                self.per_child[child] = max(self.per_child.get(child, 0), tree_bytes(child))

    def stop(self) -> PeakMemory:
        self._stopped.set()
        self._thread.join()
        return self
