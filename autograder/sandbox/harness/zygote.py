"""The warm sandbox: a harness that has imported PyTorch once and forks one confined child per submission.

It runs confined exactly as a one-off harness does (the same bubblewrap command line), but it never
runs student code and never reads a job. On each request from the grader (``fork`` with four file
descriptors: the job, stdout, stderr and the channel) it forks a *middle* process, which

1. takes the four descriptors as 0, 1, 2 and 3 and closes everything else (the control socket too);
2. enters a user namespace and a PID namespace of its own (``unshare``; a fork is single-threaded);
3. forks the child that will run the submission: pid 1 of that new PID namespace, so it cannot name the
   zygote, any earlier child, or the middle process, and everything it starts dies with it;
4. waits for it and exits with its status.

The middle process forks the child only once the job's first byte arrives (the grader has moved it into
the sandbox's cgroup by then). The child starts a session of its own, drops every capability the new user
namespace gave it (its bounding and ambient sets too), asks to die with the middle process, then becomes
an ordinary harness (``runner.main``): its own process limit, its own system-call filter, its job from its
own pipe.

Nothing of one submission reaches the next: its processes die with its PID namespace; once it ended, the
zygote empties the writable folders (``/sandbox``, ``/tmp``, ``/dev/shm``) whatever their modes, puts their
own modes back and checks that they are as they were when warm, before it reports the end (so that time is
the submission's); the zygote's memory is only ever copied (it is not dumpable, so no child may open its
``/proc`` files, and the filter refuses ``ptrace`` and ``process_vm_writev``); and before each fork the
zygote compares its own limits, priority, CPU affinity and thread count with what they were once warm.
Whatever fails these checks stops the zygote (the grader starts a cold sandbox, then a new zygote). Every
child of one zygote runs as the same kernel uid, one at a time. Before it says ``ready`` the zygote sets up
one child's namespaces without a job, so a machine that refuses them is found first.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import resource
import socket
import stat

from .contract import CHANNEL_FD, JOB_START, WARM_FOLDERS, ZYGOTE_FDS

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

    import helpers

    for name in helpers.__all__:   # the course's module imports each on first use: matplotlib, scipy, torchvision
        getattr(helpers, name)

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


def _remove_inside(folder: str) -> None:
    """Remove everything below ``folder`` (a tmpfs of the zygote's) that a child left, whatever its modes
    (each folder is opened up before it is read) and however deep (no recursion): each folder found below
    the top is first moved up to it, so that no path the removal walks is longer than two names and a
    deep chain costs no more than a flat one. A mount point on another device stays."""
    device = os.stat(folder).st_dev
    waiting, emptied, names = [folder], [], itertools.count()
    while waiting:
        current = waiting.pop()
        emptied.append(current)
        with contextlib.suppress(OSError), os.scandir(current) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if info.st_dev != device:
                        continue
                    if not stat.S_ISDIR(info.st_mode):
                        os.unlink(entry.path)
                        continue
                    os.chmod(entry.path, 0o700)
                    path = entry.path
                    if current != folder:
                        path = next(p for p in (f"{folder}/.emptied-{n}" for n in names) if not os.path.lexists(p))
                        os.rename(entry.path, path)
                    waiting.append(path)
    for path in reversed(emptied[1:]):
        with contextlib.suppress(OSError):
            os.rmdir(path)


def _folders() -> dict[str, tuple[int, int, tuple[str, ...]]]:
    """Each writable folder's mode, owner and entries."""
    found = {}
    for folder in WARM_FOLDERS:
        info = os.stat(folder)
        found[folder] = (info.st_mode, info.st_uid, tuple(sorted(os.listdir(folder))))
    return found


def _tidy(clean: dict[str, tuple[int, int, tuple[str, ...]]]) -> bool:
    """Empty the writable folders and put back their modes; whether they are now as ``clean``."""
    for folder, (mode, _, _) in clean.items():
        with contextlib.suppress(OSError):
            os.chmod(folder, stat.S_IMODE(mode))
        _remove_inside(folder)
    return _folders() == clean


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
    """The middle process (see the module docstring). Never returns. It forks the child only once the
    grader has written the first byte of the job (after moving it into the sandbox's cgroup)."""
    try:
        for target, descriptor in enumerate(descriptors):
            os.dup2(descriptor, target)
        os.closerange(CHANNEL_FD + 1, os.sysconf("SC_OPEN_MAX"))
        _own_namespaces()
        if os.read(0, 1) != JOB_START:
            raise OSError("the job did not come")
        child = os.fork()
    except BaseException as error:  # noqa: BLE001 - whatever failed, no student code runs
        os.write(2, f"the warm sandbox could not set up a child: {error}\n".encode())
        os._exit(SETUP_EXIT)
    if child == 0:
        _child(processes)
    code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
    os._exit(code if code >= 0 else 128 - code)


def _give_up_privileges() -> None:
    """A session and process group of its own (``kill(0)``, ``PRIO_PGRP`` and the like then reach only
    it), and no capability left."""
    os.setsid()
    _drop_capabilities()


def _child(processes: int) -> None:
    """Pid 1 of its own PID namespace: give up capabilities, then run the submission as a harness does."""
    try:
        _check(_LIBC.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0), "dying with the middle process")
        _give_up_privileges()
        allowance = processes + 1   # the middle process counts in this user namespace too
        resource.setrlimit(resource.RLIMIT_NPROC, (allowance, allowance))
    except BaseException as error:  # noqa: BLE001
        os.write(2, f"the warm sandbox could not confine a child: {error}\n".encode())
        os._exit(SETUP_EXIT)
    from .runner import main

    main()
    os._exit(0)


def _try_a_child() -> None:
    """Set up the namespaces of a child once, without a job: a machine that refuses them (no user
    namespaces for this uid) is found before any submission relies on it."""
    middle = os.fork()
    if middle == 0:
        try:
            _own_namespaces()
            child = os.fork()
            if child == 0:
                _give_up_privileges()
                os._exit(0)
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
        except BaseException as error:  # noqa: BLE001
            os.write(2, f"the warm sandbox cannot set up a child here: {error}\n".encode())
            os._exit(SETUP_EXIT)
    if os.waitstatus_to_exitcode(os.waitpid(middle, 0)[1]) != 0:
        os._exit(SETUP_EXIT)


def _refuse(why: str) -> None:
    os.write(2, f"the warm sandbox stopped: {why}\n".encode())
    os._exit(TAINTED_EXIT)


def serve(control: int, processes: int) -> None:
    """Warm up, say ``ready``, then fork a child per request until the grader closes the control socket.
    After each child the writable folders are emptied before its end is reported, so the time that takes
    is the submission's own."""
    _warm_up()
    _check(_LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "hiding the zygote")
    _try_a_child()
    warm = _state()
    if warm[-1].split() != ["Threads:", "1"]:   # forking a process with other threads would copy locks they hold
        _refuse(f"it runs more than one thread once warm: {warm[-1].strip()}")
    for folder in WARM_FOLDERS:
        _remove_inside(folder)   # what the imports cached
    clean = _folders()
    channel = socket.socket(fileno=control)
    channel.sendall(b"ready\n")
    while True:
        message, descriptors, _, _ = socket.recv_fds(channel, 64, ZYGOTE_FDS)
        if not message:
            os._exit(0)
        if message != b"fork" or len(descriptors) != ZYGOTE_FDS:
            _refuse("the grader's request was not understood")
        if _state() != warm:
            channel.sendall(b"tainted\n")
            _refuse("its own limits, priority or affinity changed")
        if _folders() != clean:     # written after the last check, by a process that outlived its child
            channel.sendall(b"tainted\n")
            _refuse(f"its writable folders changed since the last child ended: {_folders()}")
        middle = os.fork()
        if middle == 0:
            channel.close()
            _middle(descriptors, processes)
        for descriptor in descriptors:
            os.close(descriptor)
        channel.sendall(b"started\n")
        _, status = os.waitpid(middle, 0)
        tidy = _tidy(clean)
        channel.sendall(f"ended {os.waitstatus_to_exitcode(status)}\n".encode())
        if not tidy:
            _refuse(f"a child left what cannot be removed: {_folders()}")
