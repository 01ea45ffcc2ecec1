"""Limits on all of a sandbox's processes together, through cgroup v2 where the machine allows it.

Where ``/sys/fs/cgroup`` is a cgroup v2 hierarchy and the grader may manage its own cgroup (it runs as
root, or the cgroup was delegated to it), each sandbox gets a child cgroup with ``memory.max`` (swap
off) and ``pids.max``, the kernel's own accounting of every page and task its processes use. Anywhere
else (cgroup v1, a read-only hierarchy, a container without the controllers) ``group_for`` yields
None and the sandbox relies on its rlimits and the watchdog of ``process.py`` alone, which also run
when a cgroup is there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
NEEDED = {"memory", "pids"}


def own_cgroup(root: Path = ROOT, membership: str | None = None) -> Path | None:
    """This process's cgroup folder when the machine uses cgroup v2 only, else None."""
    if not (root / "cgroup.controllers").is_file():
        return None
    if membership is None:
        try:
            membership = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    lines = membership.strip().splitlines()
    if len(lines) != 1 or not lines[0].startswith("0::"):
        return None
    return root / lines[0][3:].strip().lstrip("/")


def _write(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _prepare_parent(base: Path, root: Path) -> None:
    """Let ``base`` hand memory and pids control to children. A cgroup other than the root may not
    hold processes and control its children at once, so the grader's own processes move to a leaf
    ``base/grader`` first."""
    if base != root:
        leaf = base / "grader"
        leaf.mkdir(exist_ok=True)
        for pid in (base / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # a process may have ended meanwhile
                _write(leaf / "cgroup.procs", pid)
    enabled = set((base / "cgroup.subtree_control").read_text().split())
    missing = NEEDED - enabled
    if missing:
        _write(base / "cgroup.subtree_control", " ".join(f"+{name}" for name in sorted(missing)))


@contextlib.contextmanager
def group_for(name: str, memory_bytes: int, processes: int, root: Path = ROOT,
              membership: str | None = None) -> Iterator[Path | None]:
    """A fresh cgroup ``sandbox-<name>`` with the limits, or None where cgroup v2 cannot be used. On exit
    every process in it is killed and the cgroup removed."""
    base = own_cgroup(root, membership)
    group = None
    if base is not None:
        try:
            if set((base / "cgroup.controllers").read_text().split()) >= NEEDED:
                _prepare_parent(base, root)
                group = base / f"sandbox-{name}"
                group.mkdir(exist_ok=True)
                _write(group / "memory.max", str(memory_bytes))
                if (group / "memory.swap.max").exists():
                    _write(group / "memory.swap.max", "0")
                _write(group / "pids.max", str(processes))
        except OSError:
            group = None
    try:
        yield group
    finally:
        if group is not None:
            empty(group)


def empty(group: Path) -> None:
    """Kill every process of ``group`` and remove it."""
    for _ in range(100):
        with contextlib.suppress(OSError):
            if (group / "cgroup.kill").exists():
                _write(group / "cgroup.kill", "1")
        try:
            pids = [int(pid) for pid in (group / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            group.rmdir()
        if not group.exists() or not pids:
            return
        time.sleep(0.01)


def join(group: Path) -> None:
    """Move the calling process into ``group`` (run in the sandbox's child before it execs)."""
    join_process(group, os.getpid())


def join_process(group: Path, pid: int) -> None:
    """Move process ``pid`` into ``group`` (a warm sandbox's child, before it reads its job)."""
    _write(group / "cgroup.procs", str(pid))


def ran_out_of_memory(group: Path | None) -> bool:
    """Whether the kernel killed a process of ``group`` for its memory limit."""
    if group is None:
        return False
    try:
        events = dict(line.split() for line in (group / "memory.events").read_text().splitlines() if line.strip())
    except (OSError, ValueError):
        return False
    return int(events.get("oom_kill", "0")) > 0


def _text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def controller_folders(controller: str, cgroup: Path, membership: str | None) -> list[Path]:
    """Where this process's cgroup files for ``controller`` may be: its own cgroup's folder, named in
    /proc/self/cgroup (v1 first, then v2), then the top of the mount, which is all a container sees."""
    if membership is None:
        membership = _text(Path("/proc/self/cgroup")) or ""
    v1, v2 = [], []
    for line in membership.splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            v2.append(cgroup / path.lstrip("/"))
        elif controller in controllers.split(","):
            v1.append(cgroup / controller / path.lstrip("/"))
    return [*v1, cgroup / controller, *v2, cgroup]


def _event_count(controller: str, files: tuple[str, ...], key: str, cgroup: Path) -> int | None:
    """The count ``key`` of the first of ``files`` readable for ``controller`` in this process's cgroup
    (``controller_folders``): a kernel event counter, "name value" per line; None where there is none."""
    for folder in controller_folders(controller, cgroup, None):
        for name in files:
            text = _text(folder / name)
            fields = dict(line.split(None, 1) for line in (text or "").splitlines() if len(line.split()) == 2)
            if fields.get(key, "").isdigit():
                return int(fields[key])
    return None


def memory_kills(cgroup: Path = ROOT) -> int | None:
    """How many processes the kernel has killed for the memory limit of the cgroup this process is in
    (a container's, as a rule): v2 ``memory.events``, v1 ``memory.oom_control``; None where neither is
    readable. The grader reads it before and after a run, so that a sandbox the container's limit killed
    before the watchdog saw it is reported as out of memory, not as a crash."""
    return _event_count("memory", ("memory.events", "memory.oom_control"), "oom_kill", cgroup)


def task_refusals(cgroup: Path = ROOT) -> int | None:
    """How many times the pids limit of the cgroup this process is in (a container's, as a rule) refused a
    new task: ``pids.events``' ``max`` (v1 and v2 alike); None where it is not readable. Like
    ``memory_kills``, the kernel's own count, which nothing in the sandbox can raise without a real refusal."""
    return _event_count("pids", ("pids.events",), "max", cgroup)
