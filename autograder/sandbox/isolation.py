"""The three ways of confining the harness (see the package docstring), and what each leaves to clean up.

``confine`` yields a ``Plan``: the command line that starts the harness confined, the uid it runs as,
which host processes belong to it (for the memory watchdog), and how to remove every trace of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ..failures import GraderError
from ..paths import ROOT
from . import landlock


class Mode(str, Enum):
    """How the harness is confined (see the package docstring)."""

    BUBBLEWRAP = "bubblewrap"
    USER = "user"
    NONE = "none"


MODES = tuple(mode.value for mode in Mode)
WORK = "/sandbox"                          # the harness's working folder inside bubblewrap
CODE = "/grading"                          # where the harness and helpers lie inside bubblewrap, read-only
SANDBOX_UIDS = range(64000, 64064)          # one per sandbox running at the same time on this machine
UID_LOCKS = (Path("/run/lock/autograder-sandbox") if Path("/run/lock").is_dir()
             else Path(tempfile.gettempdir()) / ".autograder-sandbox")
PROJECT = ROOT
# What the separate-user sandbox may see under Landlock besides the Python installation and its own folder
# (all of it world-readable system files), and the shared places it may write to (semaphores live in /dev/shm).
SYSTEM_READABLE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/proc", "/sys",
                   "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
SHARED_WRITABLE = ("/dev/shm", "/dev/null")


class IsolationUnavailable(GraderError):
    """The requested isolation cannot be set up on this machine; the message says what to do."""


@dataclass
class Plan:
    """How to start one confined harness, and how to tidy up after it."""

    mode: Mode
    argv: list[str]
    cwd: str
    env: dict[str, str]
    uid: int | None                         # the sandbox's own uid (None: the grader's)
    description: str
    members: Callable[[int], list[int]] = field(repr=False, default=lambda pid: [pid])
    stored: Callable[[int], int] = field(repr=False, default=lambda pid: 0)   # bytes it keeps in RAM or shared folders
    ruleset: int | None = None              # a Landlock ruleset the sandbox enforces on itself (user mode)
    uncounted_tasks: int = 0                # tasks the kernel counts against it that ``members`` leaves out
    # memory charged to it besides its processes' own (given ``members``): see ``warm.py``
    charged_besides: Callable[[list[int]], int] = field(repr=False, default=lambda members: 0)


def is_root() -> bool:
    return os.geteuid() == 0


# ---- processes ----
def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (Linux /proc), none once it is gone."""
    children = []
    try:
        for thread in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (thread / "children").read_text().split()]
    except OSError:
        pass
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (in a PID namespace, orphans are re-parented to its init,
    which stays in this tree). Iterative: a chain of any depth cannot exhaust the grader's stack."""
    found, waiting, seen = [], [pid], set()
    while waiting:
        current = waiting.pop()
        if current in seen:
            continue
        seen.add(current)
        found.append(current)
        waiting.extend(child_pids(current))
    return found


def live_task(pid: int) -> int:
    """A task of process ``pid`` through which ``/proc`` shows its memory and open files: ``pid`` itself,
    or, once its main thread has exited while other threads run on (the kernel then shows no memory,
    mapping or descriptor under ``pid``), one of those threads."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            if stat.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                return pid
        return next(int(task) for task in os.listdir(f"/proc/{pid}/task") if int(task) != pid)
    except (OSError, IndexError, StopIteration, ValueError):
        return pid


def pid_namespace(pid: int | str = "self") -> str | None:
    """The PID namespace ``pid`` lives in (``pid:[inode]``), None once it is gone or unreadable."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def processes_of(uid: int, namespace: str | None = None) -> list[int]:
    """Every process whose real, effective, saved or filesystem uid is ``uid``: on the whole machine, or only
    those in the PID namespace ``namespace`` (processes of another grader's sandbox of the same uid, in a
    container or a chroot beside this one, live in a namespace of their own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    if str(uid) in line.split()[1:] and (namespace is None or pid_namespace(entry.name) == namespace):
                        found.append(int(entry.name))
                    break
        except OSError:
            continue
    return found


def tasks_in(pids: Iterable[int]) -> int:
    """Processes and threads of ``pids`` together (what RLIMIT_NPROC and ``pids.max`` count; a process
    that exited and was not yet reaped still counts, as it does for the kernel); 0 for those gone."""
    count = 0
    for pid in pids:
        with contextlib.suppress(OSError, StopIteration, ValueError):
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            count += int(next(line for line in status if line.startswith("Threads:")).split()[1])
    return count


def kill_user(uid: int, namespace: str | None) -> int:
    """SIGKILL every process of ``uid`` in the PID namespace ``namespace`` until none is left (a forking
    process cannot outrun it: each round kills what the last one missed). Returns how many were killed."""
    killed = 0
    for _ in range(200):
        pids = processes_of(uid, namespace)
        if not pids:
            return killed
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        time.sleep(0.01)
    return killed


@functools.cache
def world_writable_folders() -> tuple[str, ...]:
    """Every folder anyone may write to, one level below /, /run, /var and /dev (where /tmp, /var/tmp,
    /dev/shm, /run/lock and their kind live): the only places a sandbox uid can leave files."""
    found = []
    for base in ("/", "/run", "/var", "/dev"):
        with contextlib.suppress(OSError):
            for entry in os.scandir(base):
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mode & 0o002:
                        found.append(entry.path)
    return tuple(found)


SCAN_LIMIT = 100_000   # entries one scan of the shared folders looks at, at most


def _entries_of(uid: int) -> Iterator[os.DirEntry]:
    """The top-most files and folders owned by ``uid`` in the world-writable folders, at any depth: a
    uid can only create files where it may write, so the scan descends into world-writable folders of
    other owners (``/tmp/a/b`` made 1777 by someone else) and nowhere else. Iterative, bounded, and it
    follows no link."""
    waiting, seen = list(world_writable_folders()), 0
    while waiting and seen < SCAN_LIMIT:
        with contextlib.suppress(OSError), os.scandir(waiting.pop()) as entries:
            for entry in entries:
                seen += 1
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if info.st_uid == uid:
                        yield entry
                    elif stat.S_ISDIR(info.st_mode) and info.st_mode & 0o002:
                        waiting.append(entry.path)


def _host_devices(folder: str) -> set[int]:
    """The filesystems ``folder`` and ``/`` live on outside the sandbox."""
    devices = set()
    for path in (folder, "/"):
        with contextlib.suppress(OSError):
            devices.add(os.stat(path).st_dev)
    return devices


# The most kernel memory one file or folder costs besides its data (inode, directory entry, a long name).
INODE_BYTES = 2048


def file_bytes(info: os.stat_result) -> int:
    """What a file may occupy in memory: its length, or its allocated blocks where they are more (space
    allocated past the end with ``fallocate`` leaves the length at 0), and its inode."""
    return max(info.st_size, info.st_blocks * 512) + INODE_BYTES


def tmpfs_bytes(pid: int) -> int:
    """What the bubblewrap sandbox of ``pid`` keeps in its tmpfs folders (RAM no process's resident
    memory shows), seen through the mount namespace of its first process."""
    inside = process_tree(pid)[1:2]
    total = 0
    for folder in ("/tmp", "/dev/shm", WORK) if inside else ():
        with contextlib.suppress(OSError):
            path = f"/proc/{inside[0]}/root{folder}"
            if os.stat(path).st_dev in _host_devices(folder):
                continue  # not yet the sandbox's own tmpfs: bubblewrap is still setting up its namespace
            usage = os.statvfs(path)
            total += (usage.f_blocks - usage.f_bfree) * usage.f_frsize + (usage.f_files - usage.f_ffree) * INODE_BYTES
    return total


def bytes_stored_by(uid: int) -> int:
    """What ``uid`` keeps in the world-writable folders (which may be memory, as /dev/shm is), each file
    and folder with its inode."""
    total = 0
    for entry in _entries_of(uid):
        if entry.is_dir(follow_symlinks=False):
            for directory, folders, files in os.walk(entry.path):
                total += INODE_BYTES * (1 + len(folders))
                for name in files:
                    with contextlib.suppress(OSError):
                        total += file_bytes(os.lstat(os.path.join(directory, name)))
        else:
            with contextlib.suppress(OSError):
                total += file_bytes(entry.stat(follow_symlinks=False))
    return total


def remove_files_of(uid: int) -> None:
    """Delete what ``uid`` left in the world-writable folders, and its System V IPC objects."""
    for entry in list(_entries_of(uid)):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    for kind, flag in (("shm", "-m"), ("sem", "-s"), ("msg", "-q")):
        for ident in _ipc_objects_of(uid, kind):
            subprocess.run(["ipcrm", flag, ident], capture_output=True, check=False)


def _ipc_objects_of(uid: int, kind: str) -> list[str]:
    """Ids of the System V shared memory segments, semaphores or queues that ``uid`` owns or made."""
    try:
        lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()
    except OSError:
        return []
    header = lines[0].split() if lines else []
    if not {"uid", "cuid"} <= set(header):
        return []
    ident = 1  # the column after the key: shmid, semid or msqid
    return [row.split()[ident] for row in lines[1:]
            if str(uid) in (row.split()[header.index("uid")], row.split()[header.index("cuid")])]


@contextlib.contextmanager
def sandbox_uid() -> Iterator[int]:
    """A uid of ``SANDBOX_UIDS`` that no other sandbox on this kernel holds. The lock file per uid (freed by
    the kernel if the grader dies) orders the graders that share this machine's ``/run/lock``; graders
    that do not (two containers, a chroot) are told apart by the uid itself: a uid that runs a process
    or owns a file in the shared folders is not free, whatever the lock says, and a claim holds only once
    a marker process of that uid, started by this grader, is the uid's only process."""
    UID_LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    start = random.randrange(len(SANDBOX_UIDS))  # two claimers that back off do not meet again at once
    for uid in (*SANDBOX_UIDS[start:], *SANDBOX_UIDS[:start]):
        with open(UID_LOCKS / f"{uid}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            marker = _claim(uid)
            if marker is None:
                continue
            try:
                yield uid
            finally:
                marker.kill()
                marker.wait()
            return
    raise IsolationUnavailable(f"all {len(SANDBOX_UIDS)} sandbox uids are in use")


def die_with_grader() -> None:
    """In a child before exec: the kernel kills it when the grader dies (set after any change of uid,
    which clears the request), so nothing of a killed grader lives on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _claim(uid: int) -> subprocess.Popen | None:
    """A marker process running as ``uid`` while ``uid`` is this grader's alone, or None when it is not free.
    It dies with the grader, so a grader killed for its memory leaves no uid claimed for ever."""
    if processes_of(uid) or next(_entries_of(uid), None) is not None:
        return None
    marker = subprocess.Popen(["sleep", "infinity"], user=uid, group=uid, extra_groups=[], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              preexec_fn=die_with_grader)
    if processes_of(uid) == [marker.pid]:
        return marker
    marker.kill()   # another grader claimed it at the same moment: both move on
    marker.wait()
    return None


# ---- bubblewrap ----
PACKAGE_FOLDERS = ("site-packages", "dist-packages")


def _python_paths() -> list[str]:
    """The folders of the Python installation the harness needs (interpreter, stdlib, site-packages),
    never the project's own folder."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    for entry in sys.path:
        if entry and os.path.isdir(entry) and ("site-packages" in entry or "dist-packages" in entry):
            paths.add(os.path.realpath(entry))
    project, venv = str(PROJECT), os.path.realpath(sys.prefix)

    def keep(path: str) -> bool:
        """Outside the project, or the running venv, or a package folder (another venv's site-packages a
        .pth file points to may lie inside the project: it holds packages, never the grader's code)."""
        return not _inside(path, project) or _inside(path, venv) or os.path.basename(path) in PACKAGE_FOLDERS

    return sorted({path for path in paths if os.path.isdir(path) and keep(path)})


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _system_binds() -> list[str]:
    """/usr and the top-level links or folders of the system libraries, plus the loader's files."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    # bubblewrap (0.8, say) would create /etc as the parent of these binds with mode 700, which the sandbox's
    # uid cannot enter: the loader's cache, the time zone and the alternatives links would all be unreadable
    args += ["--perms", "0755", "--dir", "/etc"]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime",
                 "/etc/fonts"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _bind_readonly(paths: list[str], covered: list[str]) -> list[str]:
    """``--ro-bind`` each path at its own place, creating its parent folders traversable (mode 755)."""
    args, made = [], set(covered)
    for path in paths:
        if any(_inside(path, root) for root in covered):
            continue
        parts = Path(path).parts
        for depth in range(2, len(parts)):
            parent = str(Path(*parts[:depth]))
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", path, path]
        covered = [*covered, path]
    return args


def bubblewrap_argv(harness: Path, helpers: Path, env: dict[str, str], uid: int | None,
                    scratch_bytes: int, processes: int = 64, warm: int | None = None) -> list[str]:
    """The ``bwrap`` command line that runs ``harness`` confined (see the package docstring). In a user
    namespace (``uid`` None) the harness limits its own namespace to ``processes`` tasks, first thing.
    With ``warm``, the harness is the warm sandbox (``harness/zygote.py``), whose children each get
    ``warm`` tasks in user namespaces of their own (so it may nest them; its children's filter may not)."""
    args = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--clearenv"]
    if uid is None:  # unprivileged grader: a user namespace, which the harness may not nest
        args += ["--unshare-user"] + (["--disable-userns"] if warm is None else [])
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += _system_binds()
    # /dev/pts empty and read-only: no pseudo-terminal (``kernel.pty.max`` is one count for the whole machine)
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/pts", "--remount-ro", "/dev/pts",
             "--perms", "1777", "--size", str(scratch_bytes // 4), "--tmpfs", "/dev/shm",
             "--perms", "1777", "--size", str(scratch_bytes // 4), "--tmpfs", "/tmp",
             "--perms", "0777", "--size", str(scratch_bytes), "--tmpfs", WORK,
             "--perms", "0755", "--dir", CODE,
             "--ro-bind", str(harness), f"{CODE}/harness", "--ro-bind", str(helpers), f"{CODE}/helpers"]
    # Python last, so that none of the sandbox's own mounts hides it (a venv under /tmp, /dev/shm ...)
    args += _bind_readonly(_python_paths(), covered=["/usr"])
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORK]
    command = [interpreter(), "-I", f"{CODE}/harness/__main__.py"]
    role = [] if warm is None else ["--zygote", str(warm)]
    if uid is not None:  # root grader: the harness drops to its own uid, with no capability left
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", *command, *role]
    else:
        args += ["--", *command, "--processes", str(processes), *role]
    return args


def interpreter() -> str:
    """This Python, by a path that lies inside the folders ``_python_paths`` binds: a venv's own
    ``bin/python`` with links in the venv's path resolved (the venv may be reached through a link)."""
    if sys.prefix != sys.base_prefix:
        return os.path.join(os.path.realpath(sys.prefix), "bin", os.path.basename(sys.executable))
    return os.path.realpath(sys.executable)


@functools.cache
def bubblewrap_works() -> bool:
    """Whether ``bwrap`` is installed and may create namespaces here (it may not in most containers)."""
    if shutil.which("bwrap") is None or (is_root() and shutil.which("setpriv") is None):
        return False
    probe = ["bwrap", "--unshare-pid", "--unshare-net", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc"]
    if not is_root():
        probe += ["--unshare-user"]
    try:
        return subprocess.run([*probe, "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def choose_mode(requested: str = "auto") -> Mode:
    """The mode to use: the strongest available for ``auto``; a requested one only if it works here."""
    if requested == "auto":
        if bubblewrap_works():
            return Mode.BUBBLEWRAP
        if is_root():
            return choose_mode(Mode.USER)
        raise IsolationUnavailable(
            "no sandbox is available: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or run "
            "the grader as root for the separate-user fallback; --no-isolation grades without a sandbox")
    if requested not in MODES:
        raise IsolationUnavailable(f"unknown isolation {requested!r} (choose from {', '.join(MODES)})")
    if requested == Mode.BUBBLEWRAP and not bubblewrap_works():
        raise IsolationUnavailable("bubblewrap cannot create its namespaces here (missing, or refused by a container)")
    if requested == Mode.USER and not is_root():
        raise IsolationUnavailable("the separate-user sandbox needs the grader to run as root")
    if requested == Mode.USER and (hidden := _closed_python()):
        raise IsolationUnavailable(f"the separate-user sandbox cannot reach the Python installation: {hidden} is "
                                   f"closed to other users (chmod o+x {hidden}, or install Python elsewhere)")
    return Mode(requested)


def _closed_python() -> Path | None:
    """The first folder that keeps other users from the interpreter or the Python folders, if any."""
    for path in (interpreter(), *_python_paths()):
        if hidden := _closed_folder(Path(path).resolve()):
            return hidden
    return None


def _closed_folder(path: Path) -> Path | None:
    """The first folder above ``path`` that users other than its owner cannot pass through, if any."""
    for folder in reversed(path.parents):
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _private_copy(harness: Path, helpers: Path, owner: int | None) -> Path:
    """A fresh folder holding the harness and ``helpers``; with ``owner``, only that uid may enter it."""
    folder = Path(tempfile.mkdtemp(prefix="grade-sandbox-"))
    shutil.copytree(harness, folder / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(helpers, folder / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    if owner is not None:
        os.chown(folder, owner, owner)
    return folder


def _environment(home: str) -> dict[str, str]:
    """Only what Python and PyTorch need: no course paths, no data location, no GPU, no grader settings."""
    env = {key: os.environ[key] for key in ("LANG", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if key in os.environ}
    env.update(PATH="/usr/local/bin:/usr/bin:/bin", HOME=home, TMPDIR=home if home != WORK else "/tmp",
               USER="student", LOGNAME="student", MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1", CUDA_VISIBLE_DEVICES="", MNIST_ROOT="/nonexistent")
    return env


@contextlib.contextmanager
def confine(mode: Mode, harness: Path, helpers: Path, scratch_bytes: int, processes: int = 64,
            warm: int | None = None) -> Iterator[Plan]:
    """Set up one sandbox of ``mode``; on exit, kill whatever it left running and remove its files.
    ``warm``: the warm sandbox (bubblewrap only; see ``bubblewrap_argv``)."""
    with contextlib.ExitStack() as stack:
        uid = stack.enter_context(sandbox_uid()) if is_root() and mode != Mode.NONE else None
        if uid is not None and mode == Mode.USER:  # in reverse: kill its processes, then remove what they left
            stack.callback(remove_files_of, uid)
            stack.callback(kill_user, uid, pid_namespace())
        if mode == Mode.BUBBLEWRAP:
            env = _environment(WORK)
            who = f"uid {uid}" if uid is not None else "a user namespace"
            yield Plan(mode, bubblewrap_argv(harness, helpers, env, uid, scratch_bytes, processes, warm), "/", {}, uid,
                       f"bubblewrap: private PID, network and IPC namespaces, read-only Python, "
                       f"{scratch_bytes // 1024**2} MB tmpfs, {who}", process_tree, tmpfs_bytes)
            return
        folder = _private_copy(harness, helpers, uid)
        stack.callback(shutil.rmtree, folder, True)
        env = _environment(str(folder))
        command = [interpreter(), "-I", str(folder / "harness" / "__main__.py")]
        if mode == Mode.USER:
            assert uid is not None
            ruleset = landlock.ruleset(readable=[*SYSTEM_READABLE, *_python_paths()],
                                       writable=[str(folder), *SHARED_WRITABLE])
            if ruleset is not None:
                stack.callback(os.close, ruleset)
            seen = ("Landlock: only the Python installation, system files and its own folder" if ruleset is not None
                    else "no Landlock on this kernel: world-readable files are visible")
            yield Plan(mode, command, str(folder), env, uid,
                       f"separate user: uid {uid}, private folder, its processes killed afterwards; {seen}",
                       lambda pid: processes_of(uid, pid_namespace()), lambda pid: bytes_stored_by(uid), ruleset)
        else:
            yield Plan(mode, command, str(folder), env, None,
                       "none: the submission ran as the grader's own user, unconfined", process_tree)
