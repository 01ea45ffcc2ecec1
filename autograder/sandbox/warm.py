"""The grader's end of the warm sandbox (``harness/zygote.py``): start it, ask it for a child per
submission, and watch that child as ``process.SandboxProcess`` watches a cold one.

A batch worker grades one submission after another; a cold sandbox spends some seconds of CPU starting
Python and importing PyTorch for each. The zygote does that once, confined by the same bubblewrap command
line, and forks each submission into a user and PID namespace of its own. It is used where bubblewrap is,
and only where it proves it can set up a child; whenever it cannot (it refused, stopped, or found its own
state changed), the submission runs in a cold sandbox and the next one gets a new zygote.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from ..failures import GraderError
from ..paths import HARNESS, HELPERS
from .harness.contract import ZYGOTE_FDS, ZYGOTE_TASKS
from .isolation import Mode, Plan, child_pids, confine, process_tree, tmpfs_bytes
from .launch import start_confined

if TYPE_CHECKING:
    from .process import Limits

READY_SECONDS = 120.0   # warming up imports PyTorch and traces a model once
FORK_SECONDS = 10.0     # a fork answers at once; a zygote that does not is broken


def file_resident_bytes(pid: int) -> int:
    """The file pages (libraries, mostly) ``pid`` has resident; 0 once it is gone.

    A forked child shares the zygote's pages, but its resident size counts a file page only once it
    touches it, where a cold harness counts every library page its imports touched. So that a submission
    has the same room under the memory limit either way, a warm child is charged the zygote's file pages
    that it has not touched itself."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) * 1024 for line in status if line.startswith("RssFile:")), 0)
    except (OSError, ValueError):
        return 0


class ZygoteBroken(GraderError):
    """The warm sandbox cannot give a child (it never started, ended, or refused): run cold instead."""


class Zygote:
    """A running warm sandbox; ``fork`` gives a ``WarmChild`` per submission, one at a time."""

    def __init__(self, limits: Limits) -> None:
        """``limits``: those of each child; the zygote and the middle processes get their tasks on top."""
        self._confinement = contextlib.ExitStack()
        self.said = self._confinement.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - its stdout and stderr
        self._buffer = b""
        self.broken = False
        try:
            plan = self._confinement.enter_context(confine(
                Mode.BUBBLEWRAP, HARNESS, HELPERS, limits.scratch_bytes, limits.processes + ZYGOTE_TASKS,
                warm=limits.processes))
            ours, theirs = socket.socketpair()
            self.control = ours
            self.process = start_confined(plan, replace(limits, processes=limits.processes + ZYGOTE_TASKS),
                                          theirs.fileno(), subprocess.DEVNULL, self.said, self.said)
            theirs.close()
            if self._line(READY_SECONDS) != b"ready":
                raise ZygoteBroken(f"the warm sandbox did not start: {self._last_words()}")
            leaves = [pid for pid in process_tree(self.process.pid) if not child_pids(pid)]
            if len(leaves) != 1:
                raise ZygoteBroken("the warm sandbox's process could not be told apart")
            self.pid = leaves[0]
        except BaseException:
            self.close()
            raise
        libraries = file_resident_bytes(self.pid)
        self.plan = Plan(plan.mode, [], "/", {}, plan.uid,
                         plan.description + "; warm: forked from a zygote into user and PID namespaces of its own",
                         members=lambda middle: process_tree(middle)[1:],
                         stored=lambda _: tmpfs_bytes(self.process.pid), uncounted_tasks=1,
                         charged_besides=lambda members: max(0, libraries - file_resident_bytes(members[0]))
                         if members else 0)

    def _line(self, seconds: float | None) -> bytes:
        """The zygote's next line, b"" when it ended or said nothing for ``seconds``."""
        while b"\n" not in self._buffer:
            try:
                ready, _, _ = select.select([self.control], [], [], seconds)
                chunk = self.control.recv(256) if ready else b""
            except (OSError, ValueError):   # closed meanwhile by ``close``
                return b""
            if not chunk:
                return b""
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _last_words(self) -> str:
        with contextlib.suppress(OSError):
            self.said.seek(max(0, os.fstat(self.said.fileno()).st_size - 400))
            text = self.said.read().decode("utf-8", "replace").strip()
            return " | ".join(text.splitlines()[-3:]) or "it printed nothing"
        return "it printed nothing"

    def usable(self) -> bool:
        return not self.broken and self.process.poll() is None

    def fork(self, descriptors: list[int]) -> WarmChild:
        """A child running as a harness with ``descriptors`` (job, stdout, stderr, channel) as its 0-3."""
        assert len(descriptors) == ZYGOTE_FDS
        if not self.usable():
            raise ZygoteBroken("the warm sandbox broke earlier")
        try:
            socket.send_fds(self.control, [b"fork"], descriptors)
        except OSError as error:
            raise ZygoteBroken(f"the warm sandbox is gone: {error}") from error
        if self._line(FORK_SECONDS) != b"started":
            raise ZygoteBroken(f"the warm sandbox gave no child: {self._last_words()}")
        middles = child_pids(self.pid)
        if len(middles) != 1:
            raise ZygoteBroken("the warm sandbox's child could not be found")
        return WarmChild(self, middles[0])

    def close(self) -> None:
        """Stop the zygote and everything under it, and remove its traces."""
        with contextlib.suppress(AttributeError, OSError):
            self.control.shutdown(socket.SHUT_RDWR)   # wakes a reader blocked on it
        with contextlib.suppress(AttributeError, OSError):
            self.control.close()
        self.broken = True
        process = getattr(self, "process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._confinement.close()


class WarmChild:
    """One submission's child, with what ``SandboxProcess`` asks of a ``subprocess.Popen``: its pid on this
    side (the middle process: its tree holds the child and all the child started), ``poll``, ``wait``
    and ``kill``. Its status comes from the zygote, which is its parent."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None
        self.lost = False   # the zygote ended while this child ran: not the submission's doing
        self._ended = threading.Event()
        threading.Thread(target=self._await_end, daemon=True).start()

    def _await_end(self) -> None:
        try:
            line = self.zygote._line(None)
            words = line.split()
            if len(words) == 2 and words[0] == b"ended" and words[1].lstrip(b"-").isdigit():
                self.returncode = int(words[1])
                return
            self.zygote.broken = True
        finally:
            if self.returncode is None:  # the zygote itself ended: whatever ran under it was killed with it
                self.returncode, self.lost = -signal.SIGKILL, True
            self._ended.set()

    def poll(self) -> int | None:
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired("warm sandbox child", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        """SIGKILL the child and all below it, not the middle process: the child is pid 1 of its PID
        namespace, so the middle's wait for it ends only once every process there is gone, and only then
        does the zygote empty the folders (a process left alive could write into the next child's). A
        zygote that does not report the end within ``FORK_SECONDS`` is stopped too. (A middle process that
        has no child yet is killed itself.)"""
        tree = process_tree(self.pid)
        for pid in tree[1:] or tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not self._ended.wait(FORK_SECONDS):
            self.zygote.close()
            self._ended.wait()



class WarmSandbox:
    """A batch worker's zygote: started when first needed, replaced when it broke, given up for good where
    it cannot start (no user namespaces for its children, say); ``None`` then, and gradings run cold."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.zygote: Zygote | None = None
        self.why_cold = ""

    def get(self) -> Zygote | None:
        if self.zygote is not None and not self.zygote.usable():
            self.zygote.close()
            self.zygote = None
        if self.zygote is None and not self.why_cold:
            try:
                self.zygote = Zygote(self.limits)
            except (GraderError, OSError) as error:
                self.why_cold = str(error)
        return self.zygote

    def close(self) -> None:
        if self.zygote is not None:
            self.zygote.close()
            self.zygote = None
