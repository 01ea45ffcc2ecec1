"""Start the harness in a fresh, limited process and collect what it leaves behind."""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HARNESS = Path(__file__).with_name("harness.py")
HELPERS = Path(__file__).resolve().parents[2] / "helpers"


@dataclass
class Limits:
    """Resource limits of one sandbox run."""

    total_seconds: float = 120.0      # wall clock for the whole run
    cell_seconds: float = 30.0        # each notebook cell
    phase_seconds: float = 30.0       # each export / probe phase
    memory_bytes: int = 3 * 1024**3   # resident memory of the process
    output_chars: int = 20_000        # printed output kept per phase
    file_bytes: int = 64 * 1024**2    # any file the process writes (stdout included)


@dataclass
class SandboxRun:
    """What came back: the artifact folder and how the process ended."""

    folder: Path
    returncode: int | None
    ended: str  # "finished", "timed out", "memory limit", "crashed", "exited early", "not run"
    seconds: float
    stderr_tail: str = ""
    report: dict = field(default_factory=dict)


def _die_with_parent() -> None:
    """Linux: the kernel kills the sandbox when the grader dies (e.g. a batch is interrupted)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _limit_process(limits: Limits):
    def apply() -> None:
        os.setsid()  # own process group: a timeout kills its children too
        _die_with_parent()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
    return apply


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
    """``pid`` and all its descendants."""
    return [pid, *(descendant for child in child_pids(pid) for descendant in process_tree(child))]


def resident_bytes(pid: int) -> int:
    """Resident memory of one process (Linux /proc), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_resident_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants together."""
    return sum(map(resident_bytes, process_tree(pid)))


def _clean_environment() -> dict:
    """Only what Python and PyTorch need: no course paths, no data location, no grader settings."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "CUDA_VISIBLE_DEVICES", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1", MNIST_ROOT="/nonexistent")
    return env


class SandboxProcess:
    """A running sandbox. A watchdog thread enforces the time and memory limits, so the grader can
    prepare (imports, data) while the student's code runs."""

    def __init__(self, job: dict, limits: Limits) -> None:
        self.limits = limits
        self.folder = Path(tempfile.mkdtemp(prefix="grade-sandbox-"))
        shutil.copy(HARNESS, self.folder / "harness.py")
        shutil.copytree(HELPERS, self.folder / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        job = dict(job, cell_seconds=limits.cell_seconds, phase_seconds=limits.phase_seconds,
                   output_limit=limits.output_chars)
        (self.folder / "job.json").write_text(json.dumps(job))
        self.ended = "finished"
        self.started = time.monotonic()
        with open(self.folder / "stdout.txt", "wb") as out, open(self.folder / "stderr.txt", "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "harness.py", "job.json"], cwd=self.folder, env=_clean_environment(),
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, preexec_fn=_limit_process(limits),
            )
        self.watchdog = threading.Thread(target=self._watch, daemon=True)
        self.watchdog.start()

    def _watch(self) -> None:
        while self.process.poll() is None:
            if time.monotonic() - self.started > self.limits.total_seconds:
                self.kill("timed out")
            elif tree_resident_bytes(self.process.pid) > self.limits.memory_bytes:
                self.kill("memory limit")
            time.sleep(0.05)

    def kill(self, why: str) -> None:
        """Stop the sandbox and everything it started."""
        if self.process.poll() is None:
            self.ended = why
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()

    def wait(self) -> SandboxRun:
        """Wait for the end (limits still apply) and collect the report it left."""
        self.watchdog.join()
        returncode = self.process.wait()
        try:
            report = json.loads((self.folder / "report.json").read_text())
        except (OSError, ValueError):
            report = {}
        ended = self.ended
        if ended == "finished" and returncode != 0:
            ended = "crashed"
        elif ended == "finished" and not report.get("complete"):
            ended = "exited early"
        stderr_tail = (self.folder / "stderr.txt").read_bytes()[-1500:].decode("utf-8", "replace")
        return SandboxRun(self.folder, returncode, ended, time.monotonic() - self.started, stderr_tail, report)
