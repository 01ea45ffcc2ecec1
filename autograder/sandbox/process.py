"""Start the harness confined, enforce its limits while it runs, and collect what it sent back."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ..failures import GraderError
from ..paths import HARNESS, HELPERS
from .cgroups import group_for, join_process, memory_kills, ran_out_of_memory, task_refusals
from .channel import ChannelReader
from .exposure import refuse_if_exposed
from .harness.contract import COMPLETE_MARK, JOB_START, STARTED
from .harness.syscalls import LISTEN_BACKLOG, UNFILTERED_EXIT
from .harness.zygote import SETUP_EXIT
from .isolation import Mode, confine, file_bytes, live_task, processes_of, tasks_in
from .launch import limit_process, start_confined
from .warm import WarmChild, Zygote, ZygoteBroken

_SANDBOXES = itertools.count()  # names this process's sandbox cgroups apart
# The sandbox's first half second is bubblewrap setting up and Python starting, before any student code
# can run (the harness imports PyTorch first): readings of processes in the middle of that are not judged.
STARTING_SECONDS = 0.5


@dataclass
class Limits:
    """Resource limits of one sandbox run."""

    total_seconds: float = 120.0      # wall clock for the whole run
    cell_seconds: float = 30.0        # each notebook cell
    phase_seconds: float = 30.0       # each export / probe phase
    memory_bytes: int = 3 * 1024**3   # resident memory of all its processes together
    output_chars: int = 20_000        # printed output kept per phase
    file_bytes: int = 64 * 1024**2    # any file the process writes (stdout included)
    scratch_bytes: int = 256 * 1024**2  # its private writable folder (a tmpfs under bubblewrap)
    processes: int = 64               # processes and threads of its uid
    open_files: int = 256             # open files of each of its processes
    cpu_seconds: int = 240            # CPU time of each of its processes
    pending_signals: int = 1024       # queued signals (kernel memory) of its uid


class Ending(str, Enum):
    """How a sandbox run ended, as the verdict's notes say it ("the submission's code timed out ...")."""

    FINISHED = "finished"
    TIMED_OUT = "timed out"
    MEMORY = "ran out of memory"
    CRASHED = "crashed"
    EXITED_EARLY = "exited early"
    STOPPED = "stopped"
    UNWATCHED = "stopped (its limits could not be watched)"
    NOT_RUN = "not run"


@dataclass
class SandboxRun:
    """What came back: the grader's folder of received records and how the sandbox ended."""

    folder: Path
    returncode: int | None
    ended: Ending
    seconds: float
    stderr_tail: str = ""
    received: set = field(default_factory=set)
    channel_problem: str = ""
    isolation: dict = field(default_factory=dict)
    memory_seen: str = ""        # what the watchdog counted when it stopped the run for memory
    most_tasks: int = 0          # the most processes and threads of its own the watchdog saw at once
    tasks_scarce: bool = False   # the grader saw the machine unable to give it its allowance of tasks


def resident_bytes(pid: int) -> int:
    """Memory of one process (Linux /proc) that is its own: resident pages, its page tables (which a
    sparse mapping of the zero page makes large while its resident size stays small) and what it has in
    swap; 0 once it is gone."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmPTE:", "VmSwap:")):
                total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


def _sysctl(name: str, default: int) -> int:
    try:
        return int(Path("/proc/sys", name).read_text())
    except (OSError, ValueError):
        return default


# The most kernel memory one open socket or pipe of the sandbox can hold queued, given what the system-call
# filter leaves it (``harness/syscalls.py``): each message or connection at most twice the default send
# buffer; a socket queues one peer's data, a listening socket its backlog (each pending connection with
# its data), a datagram socket up to ``max_dgram_qlen`` + 1 messages, even of senders already gone. A
# pipe keeps its default 16 pages. The watchdog charges every socket and pipe at this bound, since no
# reading of /proc says what it holds.
_QUEUED_UNIT = 2 * _sysctl("net/core/wmem_default", 212992)
SOCKET_BYTES = _QUEUED_UNIT * (max(LISTEN_BACKLOG, _sysctl("net/unix/max_dgram_qlen", 10)) + 2)
PIPE_BYTES = 16 * resource.getpagesize()
# An epoll instance keeps a watch per (file, descriptor number) added, even after that number is closed
# while the file lives on: its /proc fdinfo lists them all. Honest code watches a handful; past
# ``EPOLL_READ`` bytes of listing (some 12,000 watches) the instance is charged as over any limit.
WATCH_BYTES = 512
EPOLL_READ = 1024**2
BEYOND_ANY_LIMIT = 1 << 50


def _epoll_bytes(pid: int, fd: str) -> int:
    with open(f"/proc/{pid}/fdinfo/{fd}", "rb") as listing:
        text = listing.read(EPOLL_READ + 1)
    return BEYOND_ANY_LIMIT if len(text) > EPOLL_READ else text.count(b"\ntfd:") * WATCH_BYTES


# Kernel memory that grows with a count, not a size: every mapping of a process (``mprotect`` splits one
# untouched mapping into as many as it likes) costs the kernel some 230 bytes of slab (measured: its
# vm_area_struct and maple-tree nodes; more once touched), which no resident size shows. The watchdog
# charges each mapping ``MAPPING_BYTES``, reading at most ``MAPS_READ`` of a process's map listing (a few
# thousand mappings; the harness has some 550): a longer listing is charged at the most the kernel lets
# one process have (``vm.max_map_count``), so that reading costs the watchdog little whatever the count.
MAPPING_BYTES = 320
MAX_MAPPINGS = _sysctl("vm/max_map_count", 65530)
MAPS_READ = 256 * 1024


def mapping_bytes(pid: int) -> int:
    """Kernel memory of the mappings of ``pid``: exactly, or at its most for a long listing; 0 once gone."""
    lines, read = 0, 0
    try:
        with open(f"/proc/{pid}/maps", "rb", buffering=0) as listing:
            while read <= MAPS_READ:
                chunk = listing.read(64 * 1024)
                if not chunk:
                    return lines * MAPPING_BYTES
                read, lines = read + len(chunk), lines + chunk.count(b"\n")
    except OSError:
        return 0
    return MAX_MAPPINGS * MAPPING_BYTES


def _links(pids: list[int], folder: str) -> Iterator[tuple[int, str, str, str]]:
    """(pid, entry, path, target) of each link in ``/proc/PID/<folder>`` (``fd``, ``map_files``) of
    ``pids``, skipping processes and entries that are gone or unreadable."""
    for pid in pids:
        try:
            entries = os.listdir(f"/proc/{pid}/{folder}")
        except OSError:
            continue
        for entry in entries:
            path = f"/proc/{pid}/{folder}/{entry}"
            with contextlib.suppress(OSError):
                yield pid, entry, path, os.readlink(path)


def open_in_memory(pids: list[int]) -> dict[tuple[int, int], int]:
    """The files open in ``pids`` that hold memory no folder scan or resident size shows (memory files,
    deleted files, /dev/shm files, sockets, pipes, epoll instances), by (device, inode), each with what
    it may hold."""
    found: dict[tuple[int, int], int] = {}
    for pid, fd, path, target in _links(pids, "fd"):
        try:
            buffer = SOCKET_BYTES if target.startswith("socket:") else PIPE_BYTES if target.startswith(
                "pipe:") else _epoll_bytes(pid, fd) if target == "anon_inode:[eventpoll]" else None
            if buffer is None and not target.startswith(("/memfd:", "/dev/shm/")) \
                    and not target.endswith(" (deleted)"):
                continue
            info = os.stat(path)
        except OSError:
            continue
        found[(info.st_dev, info.st_ino)] = file_bytes(info) if buffer is None else buffer
    return found


def held_file_bytes(pids: list[int]) -> int:
    """Memory held through files open in ``pids`` that no folder scan finds (memory files, deleted files)
    or that live in RAM (/dev/shm), which resident memory does not count until they are mapped, the
    kernel buffers of their sockets and pipes, at the most each can hold, and their epoll watches."""
    return sum(open_in_memory(pids).values())


def mapped_file_bytes(pids: list[int], held: Iterable[tuple[int, int]]) -> int:
    """Memory files and deleted files that ``pids`` map but do not hold open (``held``: the (device,
    inode) of what they hold; a file can be mapped, closed and deleted: then only its touched pages are
    resident and no scan finds it), each counted whole and once. Reading ``/proc/PID/map_files`` takes
    root; elsewhere this counts nothing, which the bubblewrap sandbox's tmpfs measurement covers (those
    files can only live there)."""
    seen, total = set(held), 0
    for _, _, path, target in _links(pids, "map_files"):
        if not (target.startswith("/memfd:") or target.endswith(" (deleted)")):
            continue
        try:
            info = os.stat(path)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            total += file_bytes(info)
    return total


def task_headroom(uid_tasks: bool) -> int:
    """How many more tasks the machine would start for the grader now: its task table (``threads-max``)
    and process ids (``pid_max``) less every task running (``/proc/loadavg``), and with ``uid_tasks`` (a
    grader that is not root, whose uid the sandbox's tasks count against) its uid's task limit less the
    tasks of that uid (a scan of ``/proc``)."""
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        running = 0
    room = min(_sysctl("kernel/threads-max", 1 << 22), _sysctl("kernel/pid_max", 1 << 22)) - running
    limit = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if uid_tasks and limit != resource.RLIM_INFINITY:
        room = min(room, limit - tasks_in(processes_of(os.getuid())))
    return room


class SandboxProcess:
    """A running sandbox. A watchdog thread enforces the time and memory limits, so the grader can
    prepare (imports, data) while the student's code runs."""

    def __init__(self, job: dict, limits: Limits, isolation: Mode = Mode.BUBBLEWRAP,
                 private: Sequence[Path] = (), zygote: Zygote | None = None) -> None:
        """``private``: what the sandbox must not read; where only permissions and Landlock guard it (the
        separate-user mode), the sandbox does not start until a probe as its uid proved it unreadable.
        ``zygote``: a warm sandbox to fork from (bubblewrap only); a cold one starts where it cannot."""
        self.limits = limits
        self.folder = Path(tempfile.mkdtemp(prefix="grade-received-"))  # mode 700, the grader's alone
        self._confinement = contextlib.ExitStack()
        self.ended = Ending.FINISHED
        self.memory_seen = ""
        self.kills_before = memory_kills()   # the enclosing cgroup's count (a container's limit)
        self.refusals_before = task_refusals()
        self.most_tasks, self.least_room = 0, BEYOND_ANY_LIMIT
        self.started = time.monotonic()
        self.process: subprocess.Popen | WarmChild
        job = dict(job, cell_seconds=limits.cell_seconds, phase_seconds=limits.phase_seconds,
                   output_limit=limits.output_chars)
        try:
            self.cgroup = self._confinement.enter_context(
                group_for(f"{os.getpid()}-{next(_SANDBOXES)}", limits.memory_bytes, limits.processes))
            if not (zygote is not None and isolation == Mode.BUBBLEWRAP and self._start_warm(job, zygote)):
                self.plan = self._confinement.enter_context(
                    confine(isolation, HARNESS, HELPERS, limits.scratch_bytes, limits.processes))
                if self.plan.mode == Mode.USER:
                    refuse_if_exposed(list(private), self.plan.uid, self.plan.cwd, self.plan.env,
                                      limit_process(limits, self.plan, None))
                self._start(job)
        except BaseException:
            self._confinement.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.watchdog = threading.Thread(target=self._watch, daemon=True)
        self.watchdog.start()

    def _start(self, job: dict) -> None:
        """A cold sandbox: start the confined harness."""
        self._hand_over(job, lambda job_in, out, err, write_end: start_confined(
            self.plan, self.limits, write_end, job_in, out, err, self.cgroup))

    def _start_warm(self, job: dict, zygote: Zygote) -> bool:
        """A child of the warm sandbox, moved into this sandbox's cgroup before it reads its job; False
        (and the zygote stopped) where the zygote cannot give one."""
        self.plan = zygote.plan

        def fork(job_in: int, out, err, write_end: int) -> WarmChild:
            child = zygote.fork([job_in, out.fileno(), err.fileno(), write_end])
            if self.cgroup is not None:   # before the job's first byte: its child will start in the cgroup
                join_process(self.cgroup, child.pid)
            return child
        try:
            self._hand_over(job, fork)
        except ZygoteBroken:
            zygote.close()   # a late child of it must not write into the cold run's files
            return False
        return True

    def _hand_over(self, job: dict, start) -> None:
        """Start the harness with ``start(job_in, stdout, stderr, channel)``, then send it its job."""
        read_end, write_end = os.pipe()
        job_in, job_out = os.pipe()
        try:
            with open(self.folder / "stdout.txt", "wb") as out, open(self.folder / "stderr.txt", "wb") as err:
                self.process = start(job_in, out, err, write_end)
        except BaseException:
            os.close(read_end)
            os.close(job_out)
            raise
        finally:
            os.close(write_end)
            os.close(job_in)
        self.channel = ChannelReader(read_end, self.folder)
        with contextlib.suppress(BrokenPipeError):  # a harness that died at once reads no job
            os.write(job_out, JOB_START + json.dumps(job).encode())
        os.close(job_out)

    def _watch(self) -> None:
        """Every 50 ms: wall clock, and the memory of all its processes (each read through a live task, so
        a process whose main thread exited still shows: resident, page tables and swap,
        plus RAM-backed files and kernel buffers they hold open, plus each second what it stored in
        shared folders or tmpfs, the deleted files it only maps and the kernel's records of its
        mappings); and the most tasks its processes had at once and the fewest the machine could have
        given them in all (each second: the room left plus what they held), the grader's own readings of
        whether a refused ``fork`` was the sandbox's doing (``autograder.shortage``). Fails closed:
        anything going wrong here kills the sandbox."""
        stored, checked, over = 0, 0.0, 0
        grace = 0.0 if isinstance(self.process, WarmChild) else STARTING_SECONDS   # a warm child runs at once
        uid_tasks = self.plan.uid is None and os.geteuid() != 0
        try:
            while self.process.poll() is None:
                now = time.monotonic()
                members = [live_task(pid) for pid in self.plan.members(self.process.pid)]
                tasks = tasks_in(members) + self.plan.uncounted_tasks
                self.most_tasks = max(self.most_tasks, tasks)
                held = open_in_memory(members)
                if now - checked > 1.0:
                    stored, checked = self._stored(members, held), now
                    # its own tasks count as room: a sandbox cannot make the machine look short by itself
                    self.least_room = min(self.least_room, task_headroom(uid_tasks) + tasks)
                resident = sum(map(resident_bytes, members)) + self.plan.charged_besides(members)
                files = sum(held.values())
                # over the limit on two readings in a row: one reading of processes that are changing
                # (bubblewrap setting up, a process exiting) must not end a run; growth in 50 ms is bounded
                if resident + files + stored > self.limits.memory_bytes:
                    stored, checked = self._stored(members, held), now   # never judge on a stale count
                starting = now - self.started < grace
                over = over + 1 if resident + files + stored > self.limits.memory_bytes and not starting else 0
                if now - self.started > self.limits.total_seconds:
                    self.kill(Ending.TIMED_OUT)
                elif over >= 2:
                    self.memory_seen = (f"{resident // 2**20} MB resident in {len(members)} processes, "
                                        f"{files // 2**20} MB in open memory files and kernel buffers, "
                                        f"{stored // 2**20} MB stored or in kernel mappings")
                    self.kill(Ending.MEMORY)
                time.sleep(0.05)
        except BaseException:  # noqa: BLE001 - a watchdog that cannot watch must not leave it running
            self.kill(Ending.UNWATCHED)

    def _stored(self, members: list[int], held: dict[tuple[int, int], int]) -> int:
        return (self.plan.stored(self.process.pid) + mapped_file_bytes(members, held)
                + sum(map(mapping_bytes, members)))

    def kill(self, why: Ending) -> None:
        """Stop the sandbox and everything it started."""
        if self.process.poll() is None:
            self.ended = why
            if isinstance(self.process, WarmChild):
                self.process.kill()
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def wait(self) -> SandboxRun:
        """Wait for the end (limits still apply), remove every trace of the sandbox, collect the records."""
        try:
            self.watchdog.join(self.limits.total_seconds + 30)
            try:
                returncode = self.process.wait(timeout=self.limits.total_seconds + 30)
            except subprocess.TimeoutExpired:
                self.kill(Ending.TIMED_OUT)
                returncode = self.process.wait()
        finally:
            self._confinement.close()  # kills leftover processes, removes the sandbox's files
        self.channel.finish()
        if isinstance(self.process, WarmChild) and (self.process.lost or (
                returncode == SETUP_EXIT and STARTED not in self.channel.received)):
            self.process.zygote.broken = True
            shutil.rmtree(self.folder, ignore_errors=True)
            raise WarmSandboxLost("the warm sandbox ended or could not set up the submission's process")
        if (STARTED not in self.channel.received and self.ended == Ending.FINISHED
                and (why := _start_failure(self.folder, returncode))):
            shutil.rmtree(self.folder, ignore_errors=True)
            raise SandboxFailure(why)
        report = self.folder / "report.json"
        ended = Ending.MEMORY if ran_out_of_memory(self.cgroup) or self._killed_by_enclosing_limit(returncode) \
            else self.ended
        if ended == Ending.FINISHED and returncode != 0:
            ended = Ending.CRASHED
        elif ended == Ending.FINISHED and not _says_complete(report):
            ended = Ending.EXITED_EARLY
        stderr_tail = (self.folder / "stderr.txt").read_bytes()[-1500:].decode("utf-8", "replace")
        return SandboxRun(self.folder, returncode, ended, time.monotonic() - self.started, stderr_tail,
                          set(self.channel.received), self.channel.problem,
                          {"mode": self.plan.mode, "description": self.plan.description + "; " + (
                              "cgroup v2 limits on memory and processes" if self.cgroup else
                              "rlimits and a memory watchdog (no cgroup v2 here)")}, self.memory_seen,
                          self.most_tasks, self._tasks_scarce())

    def _tasks_scarce(self) -> bool:
        """Whether the grader saw, on its own readings, that the machine could not give this sandbox all its
        tasks: the enclosing cgroup's pids limit refused one, or the room it had, its own tasks included, fell
        below its allowance."""
        refusals = task_refusals()
        refused = refusals is not None and self.refusals_before is not None and refusals > self.refusals_before
        return refused or self.least_room < self.limits.processes


    def _killed_by_enclosing_limit(self, returncode: int) -> bool:
        """Killed by SIGKILL while the kernel killed for the memory limit of the cgroup around the grader
        (a container's): the limit reached it before the watchdog's next reading. Read by the grader, so
        nothing the sandbox says plays a part."""
        killed = returncode in (-signal.SIGKILL, 128 + signal.SIGKILL)
        after = memory_kills()
        if not (killed and self.ended == Ending.FINISHED and after is not None and self.kills_before is not None
                and after > self.kills_before):
            return False
        self.memory_seen = "the container's, where the kernel stopped it before the watchdog's next reading"
        return True

    def discard(self) -> None:
        """Stop the sandbox and throw away what it sent (the grading was abandoned)."""
        self.kill(Ending.STOPPED)
        shutil.rmtree(self.wait().folder, ignore_errors=True)


class SandboxFailure(GraderError):
    """The sandbox itself could not run (not the submission's fault): the grader reports an error."""


class WarmSandboxLost(SandboxFailure):
    """The warm sandbox failed under a submission (not the submission's doing): it runs again cold."""


def _start_failure(folder: Path, returncode: int | None) -> str:
    """Why the sandbox never got to run student code, or "" when it did: Python could not be started
    (126, 127), bubblewrap could not set up, or the harness refused to run without its filter. Asked only
    when the harness never sent ``STARTED``, so no status or message chosen by student code reads as a
    failure to start. The sandbox's own last words always come along."""
    try:
        text = (folder / "stderr.txt").read_bytes()[-600:].decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    said = " | ".join(text.splitlines()[-4:])[-400:] or f"it printed nothing and exited with status {returncode}"
    if returncode == UNFILTERED_EXIT:
        return "the sandbox refused to start without its system-call filter: " + said
    if returncode in (126, 127) or text.startswith(("bwrap:", "setpriv:")):
        return "the sandbox could not start Python: " + said
    return ""


def _says_complete(report: Path) -> bool:
    """Whether the harness's last report says it got to the end (a cheap look; validated later)."""
    try:
        return report.stat().st_size < 64 * 1024**2 and report.read_bytes().endswith(COMPLETE_MARK)
    except OSError:
        return False
