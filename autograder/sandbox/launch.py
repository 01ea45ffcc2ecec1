"""Start a confined process (the harness of a cold sandbox, or the warm one of ``warm.py``): its rlimits,
its uid, its cgroup, and file descriptor 3 (the channel back, or the warm sandbox's control socket)."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..bounds import address_space_outside
from . import landlock
from .cgroups import join
from .harness.contract import CHANNEL_FD
from .isolation import Mode, Plan, die_with_grader, processes_of, tasks_in

if TYPE_CHECKING:
    from .process import Limits


def _process_limit(limits: Limits, plan: Plan) -> int:
    """``RLIMIT_NPROC`` for the process that starts the sandbox. The kernel counts it per uid: with a uid
    of its own, the sandbox's allowance; in bubblewrap's user namespace the grader's own ceiling, since
    the harness sets the sandbox's allowance inside the namespace, where only its tasks count (the
    namespace takes this value as the most its tasks may add to the grader's uid); unconfined
    (``none``), the grader's uid on top of what it already runs, which later load eats into."""
    if plan.uid is not None:
        return limits.processes
    if plan.mode == Mode.BUBBLEWRAP:
        return resource.getrlimit(resource.RLIMIT_NPROC)[1]
    return tasks_in(processes_of(os.getuid())) + limits.processes


def limit_process(limits: Limits, plan: Plan, cgroup: Path | None):
    """Runs in the child before exec, as the grader's user: join the sandbox's cgroup, set the rlimits
    (the grader's own address-space limits, not the bound on its checks: ``bounds``),
    then (separate-user mode) drop to the sandbox's uid, and ask to die with the grader (that request
    does not survive a change of uid, so it comes last)."""
    processes = _process_limit(limits, plan)
    address_space = address_space_outside()   # never the bound on the grader's checks

    def apply() -> None:
        if cgroup is not None:
            join(cgroup)
        resource.setrlimit(resource.RLIMIT_AS, address_space)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))   # POSIX message queues: kernel memory
        resource.setrlimit(resource.RLIMIT_SIGPENDING, (limits.pending_signals, limits.pending_signals))
        if plan.mode == Mode.USER:
            assert plan.uid is not None
            os.setgroups([])
            os.setresgid(plan.uid, plan.uid, plan.uid)
            os.setresuid(plan.uid, plan.uid, plan.uid)
        if plan.ruleset is not None:
            landlock.enforce(plan.ruleset)
        die_with_grader()
    return apply


def start_confined(plan: Plan, limits: Limits, on_fd3: int, stdin: int, stdout: IO, stderr: IO,
                   cgroup: Path | None = None) -> subprocess.Popen:
    """Start ``plan``'s command in a session of its own, with ``on_fd3`` as its file descriptor 3."""
    return subprocess.Popen(
        plan.argv, cwd=plan.cwd, env=plan.env, stdin=stdin, stdout=stdout, stderr=stderr,
        pass_fds=(CHANNEL_FD,),  # the descriptor is moved there before the other fds close
        preexec_fn=_on_fd3(on_fd3, limit_process(limits, plan, cgroup)), start_new_session=True)


def _on_fd3(descriptor: int, then):
    """Put ``descriptor`` on file descriptor 3 in the child, whatever number it had."""
    def apply() -> None:
        if descriptor != CHANNEL_FD:
            os.dup2(descriptor, CHANNEL_FD)
        os.set_inheritable(CHANNEL_FD, True)
        then()
    return apply
