"""Peak resident memory of a running command and all it starts, sampled from /proc (for benchmarks)."""

from __future__ import annotations

import threading

from autograder.sandbox.isolation import child_pids
from autograder.sandbox.process import tree_resident_bytes

MB = 1024**2


class PeakMemory:
    """Samples a process tree every ``interval`` seconds until :meth:`stop`.

    ``total`` is the peak of the whole tree's resident memory at one moment (what a container must
    hold); ``per_child`` the peak of each direct child's own subtree (one grading of a batch).
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
            self.total = max(self.total, tree_resident_bytes(self.pid))
            for child in child_pids(self.pid):
                self.per_child[child] = max(self.per_child.get(child, 0), tree_resident_bytes(child))

    def stop(self) -> PeakMemory:
        self._stopped.set()
        self._thread.join()
        return self
