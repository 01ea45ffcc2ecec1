"""The warm sandbox: a harness that has imported PyTorch once and forks one confined child per submission.

It runs confined exactly as a one-off harness does (the same bubblewrap command line), but it never
runs student code and never reads a job. On each request from the grader (``fork`` with four file
descriptors: the job, stdout, stderr and the channel) it forks a *middle* process, which

1. takes the four descriptors as 0, 1, 2 and 3 and closes everything else (the control socket too);
2. enters a user namespace and a PID namespace of its own (``unshare``; a fork is single-threaded);
3. forks the child that will run the submission: pid 1 of that new PID namespace, so it cannot name the
   zygote, any earlier child, or the middle process, and everything it starts dies with it;
4. waits for it and exits with its status.

The child drops every capability the new user namespace gave it (its bounding set too), asks to die with
the middle process, then becomes an ordinary harness (``runner.main``): its own process limit, its own
system-call filter, its job from its own pipe.

Nothing of one submission reaches the next: its processes die with its PID namespace before the next
fork; the zygote empties the writable folders (``/sandbox``, ``/tmp``, ``/dev/shm``) before each fork; the
zygote's memory is only ever copied (it is not dumpable, so no child may open its ``/proc`` files, and
the filter refuses ``ptrace`` and ``process_vm_writev``); and before each fork the zygote compares its own
limits, priority and CPU affinity with what they were once warm, and stops (the grader starts a cold
one) if anything changed. Every child of one zygote runs as the same kernel uid, one at a time.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import shutil
import socket

from .contract import CHANNEL_FD, WARM_FOLDERS, ZYGOTE_FDS

_LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWPID = 0x10000000, 0x20000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 1, 4, 24, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LAST_CAPABILITY = 63
SIGKILL = 9
TAINTED_EXIT = 121          # the zygote's exit status when its own state changed between two forks
SETUP_EXIT = 122            # the middle process or the child could not set up its namespaces


def _warm_up() -> None:
    """Import what every submission imports (PyTorch, torchvision, the export machinery, the course's
    helpers and their plotting and image libraries) and trace one tiny model, so that no child pays for it."""
    import torch
    from torch._export.serde.serialize import serialize

    import helpers  # noqa: F401 - the course's module, with matplotlib, scipy and torchvision

    from . import runner  # noqa: F401 - the harness itself

    torch.set_num_threads(1)
    with contextlib.suppress(ImportError):
        from IPython.core.inputtransformer2 import TransformerManager
        TransformerManager().transform_cell("%matplotlib inline\n")
    serialize(torch.export.export(torch.nn.Linear(2, 2).eval(), (torch.rand(1, 2),)))


def _state() -> tuple:
    """What the zygote hands every child and nothing but the grader may set: its limits, priority and CPU
    affinity, and that it runs one thread (``fork`` and ``unshare`` need that)."""
    limits = tuple(resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_"))
    with open("/proc/self/status") as status:
        threads = next(line for line in status if line.startswith("Threads:"))
    return limits, os.getpriority(os.PRIO_PROCESS, 0), tuple(sorted(os.sched_getaffinity(0))), threads


def _empty(folder: str) -> None:
    """Remove everything a child left in ``folder`` (a tmpfs of the zygote's), whatever its modes; mount
    points (the read-only harness and helpers) stay."""
    def unlock(function, path, _error) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), 0o700)
            os.chmod(path, 0o700)
            function(path)

    device = os.stat(folder).st_dev
    with os.scandir(folder) as entries:
        for entry in list(entries):
            if entry.is_dir(follow_symlinks=False):
                if entry.stat(follow_symlinks=False).st_dev != device:
                    continue
                shutil.rmtree(entry.path, onerror=unlock)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _check(call: int, what: str) -> None:
    if call != 0:
        raise OSError(ctypes.get_errno(), what)


def _drop_capabilities() -> None:
    """The child's new user namespace gave it every capability over its own namespaces: give them all up,
    the bounding and ambient sets too, and check that none is left."""
    _check(_LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    for capability in range(LAST_CAPABILITY + 1):
        if _LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break   # past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)   # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()                  # effective, permitted, inheritable: all empty
    _check(_LIBC.capset(header, data), "dropping capabilities")
    with open("/proc/self/status") as status:
        held = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Cap")}
    if any(int(value, 16) for value in held.values()):
        raise OSError(f"capabilities left after dropping them: {held}")


def _own_namespaces() -> None:
    """Enter a new user namespace (mapping this uid and gid to themselves) and a new PID namespace, whose
    first process is the next one forked."""
    uid, gid = os.getuid(), os.getgid()
    _check(_LIBC.unshare(CLONE_NEWUSER | CLONE_NEWPID), "creating namespaces")
    _check(_LIBC.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "making the maps writable")  # /proc/self owned by us
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as mapping:
            mapping.write(text)
    _check(_LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "hiding the process again")


def _middle(descriptors: list[int], processes: int) -> None:
    """The middle process (see the module docstring). Never returns."""
    try:
        for target, descriptor in enumerate(descriptors):
            os.dup2(descriptor, target)
        os.closerange(CHANNEL_FD + 1, os.sysconf("SC_OPEN_MAX"))
        _own_namespaces()
        child = os.fork()
    except BaseException as error:  # noqa: BLE001 - whatever failed, no student code runs
        os.write(2, f"the warm sandbox could not set up a child: {error}\n".encode())
        os._exit(SETUP_EXIT)
    if child == 0:
        _child(processes)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(SETUP_EXIT)
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def _child(processes: int) -> None:
    """Pid 1 of its own PID namespace: give up capabilities, then run the submission as a harness does."""
    try:
        _check(_LIBC.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "dying with the middle process")
        _drop_capabilities()
        allowance = processes + 1   # the middle process counts in this user namespace too
        resource.setrlimit(resource.RLIMIT_NPROC, (allowance, allowance))
    except BaseException as error:  # noqa: BLE001
        os.write(2, f"the warm sandbox could not confine a child: {error}\n".encode())
        os._exit(SETUP_EXIT)
    from .runner import main

    main()
    os._exit(0)


def serve(control: int, processes: int) -> None:
    """Warm up, say ``ready``, then fork a child per request until the grader closes the control socket."""
    _warm_up()
    _check(_LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "hiding the zygote")
    warm = _state()
    if warm[-1].split() != ["Threads:", "1"]:   # forking a process with other threads would copy locks they hold
        os.write(2, f"the warm sandbox runs more than one thread once warm: {warm[-1].strip()}\n".encode())
        os._exit(SETUP_EXIT)
    channel = socket.socket(fileno=control)
    channel.sendall(b"ready\n")
    while True:
        message, descriptors, _, _ = socket.recv_fds(channel, 64, ZYGOTE_FDS)
        if not message:
            os._exit(0)
        if message != b"fork" or len(descriptors) != ZYGOTE_FDS:
            os._exit(SETUP_EXIT)
        if _state() != warm:
            channel.sendall(b"tainted\n")
            os._exit(TAINTED_EXIT)
        for folder in WARM_FOLDERS:
            _empty(folder)
        middle = os.fork()
        if middle == 0:
            channel.close()
            _middle(descriptors, processes)
        for descriptor in descriptors:
            os.close(descriptor)
        channel.sendall(b"started\n")
        _, status = os.waitpid(middle, 0)
        channel.sendall(f"ended {os.waitstatus_to_exitcode(status)}\n".encode())
