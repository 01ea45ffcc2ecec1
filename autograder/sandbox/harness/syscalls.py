"""The system calls the harness refuses, installed as a seccomp-bpf filter before any student code runs.

The filter (libseccomp, bound in ``libseccomp.py``) applies to every thread the harness already has (TSYNC)
and is inherited by every process it starts; nothing can remove it. It is a deny-list, so that
PyTorch, NumPy and matplotlib run unchanged: a refused call returns an errno, which honest code
probing for a feature survives. Calls of another architecture (``int 0x80``) kill the process.

Refused: new namespaces (``unshare``, ``setns``, ``clone`` with a namespace flag; ``clone3``, whose
flags seccomp cannot read, answers ENOSYS so that glibc falls back to ``clone``), threads with a
descriptor table of their own (``clone`` with ``CLONE_THREAD`` but not ``CLONE_FILES``: the watchdog reads
one table per process, so the sockets, pipes and deleted files such a thread held would go uncounted),
mounting in any form,
System V IPC (memory no limit counts), sockets of any family but ``AF_UNIX`` (no network in any mode),
``connect`` and ``sendto`` with an address (a unix socket reaches only what the sandbox made itself with
``socketpair``: Landlock does not scope pathname sockets, where host services listen; DataLoader workers
hand tensors back by value, ``sharing.py``), ``io_setup`` (ENOSYS: AIO contexts are a table of the whole
machine), ``sendmsg`` and ``sendmmsg`` (the only way to put a file descriptor in flight on a socket, where no
process holds it and no watchdog sees its memory; ``send`` and ``write`` work), socket buffer sizes (``setsockopt``
``SO_SNDBUF`` and the like), listen queues longer than ``LISTEN_BACKLOG`` and pipe resizing (so that
the most any socket or pipe can queue in the kernel is small and known: the watchdog counts it),
``vmsplice``, ``splice`` and ``tee`` (a pipe would hold whole pages, huge ones included, rather than
copies), extended attributes (``setxattr`` and its kin: kernel memory outside a tmpfs's size), record
locks (``fcntl`` ``F_SETLK`` and its kin answer ENOLCK: kernel memory without a limit; ``flock``
works), inotify (ENOSYS: event queues are kernel memory; callers fall back to polling),
memory files (``memfd_create``, ``memfd_secret``: memory held outside any process), io_uring (its
operations bypass this filter), tracing and reading other processes, BPF, perf, keys,
``userfaultfd``, modules, kexec, ``chroot``, swap, reboot and the machine's clock and names.
"""

from __future__ import annotations

import errno
import os
import sys

from . import libseccomp as seccomp

REFUSED = (
    "unshare", "setns",
    "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
    "mount_setattr", "open_tree_attr", "chroot",
    "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl",
    "memfd_secret", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "sendmsg", "sendmmsg", "vmsplice", "splice", "tee", "connect",
    "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    "name_to_handle_at", "open_by_handle_at",
    "bpf", "perf_event_open", "fanotify_init", "keyctl", "add_key", "request_key", "userfaultfd",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "syslog", "iopl", "ioperm", "vhangup",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
)
# Kernel memory that sockets and pipes queue is counted by the watchdog per open socket and pipe, at the
# most each can hold; these rules keep that most small: the default send buffer (no SO_SNDBUF and the
# like), a short listen queue, the default pipe size.
BUFFER_OPTIONS = (7, 8, 32, 33)            # SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE
SOL_SOCKET = 1
LISTEN_BACKLOG = 16                        # the most connections a listening socket may queue
F_SETPIPE_SZ = 1031
RECORD_LOCKS = (6, 7, 37, 38)              # F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW: ENOLCK
# ENOSYS: callers fall back to what the filter can judge (clone), or to doing without (polling for inotify)
UNAVAILABLE = ("clone3", "memfd_create", "inotify_init", "inotify_init1", "io_setup")
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
CLONE_THREAD, CLONE_FILES = 0x00010000, 0x00000400
AF_UNIX = 1
UNFILTERED_EXIT = 120                      # the harness's exit status when it could not install the filter
# Since Linux 5.1 new system calls have one number on every architecture: the fallback where the
# installed libseccomp is older than the call.
SHARED_NUMBERS = {"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                  "fspick": 433, "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440,
                  "mount_setattr": 442, "quotactl_fd": 443, "memfd_secret": 447, "setxattrat": 463,
                  "open_tree_attr": 467,
                  "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427}


class FilterUnavailable(RuntimeError):
    """The filter could not be installed: the harness must not run student code."""


def _number(rules: seccomp.Filter, name: str) -> int | None:
    """The call's number for this machine (libseccomp's negative stand-in where the machine multiplexes it),
    None where neither libseccomp nor ``SHARED_NUMBERS`` knows it."""
    number = rules.resolve(name)
    return SHARED_NUMBERS.get(name) if number == seccomp.NOT_A_CALL else number


def install() -> None:
    """Load the filter into this process and all its threads, or raise ``FilterUnavailable``."""
    try:
        rules = seccomp.Filter(seccomp.ALLOW)
    except OSError as error:
        raise FilterUnavailable(f"libseccomp could not be loaded (install libseccomp2): {error}") from error
    try:
        rules.set_attribute(seccomp.ATTR_ACT_BADARCH, seccomp.KILL_PROCESS)
        rules.set_attribute(seccomp.ATTR_CTL_TSYNC, 1)
        refuse = seccomp.errno_action(errno.EPERM)
        for names, action in ((REFUSED, refuse), (UNAVAILABLE, seccomp.errno_action(errno.ENOSYS))):
            for name in names:
                number = _number(rules, name)
                if number is not None:
                    rules.add_rule(action, number)
        for flag in NAMESPACE_FLAGS:
            rules.add_rule(refuse, rules.resolve("clone"), (0, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(refuse, rules.resolve("clone"), (0, seccomp.MASKED_EQ, CLONE_THREAD | CLONE_FILES, CLONE_THREAD))
        for call in ("socket", "socketpair"):
            rules.add_rule(seccomp.errno_action(errno.EAFNOSUPPORT), rules.resolve(call), (0, seccomp.NE, AF_UNIX, 0))
        for option in BUFFER_OPTIONS:
            rules.add_rule(refuse, rules.resolve("setsockopt"), (1, seccomp.EQ, SOL_SOCKET, 0),
                           (2, seccomp.EQ, option, 0))
        rules.add_rule(refuse, rules.resolve("listen"), (1, seccomp.GT, LISTEN_BACKLOG, 0))
        rules.add_rule(refuse, rules.resolve("sendto"), (4, seccomp.NE, 0, 0))   # with an address
        fcntl = rules.resolve("fcntl")
        rules.add_rule(refuse, fcntl, (1, seccomp.EQ, F_SETPIPE_SZ, 0))
        for command in RECORD_LOCKS:
            rules.add_rule(seccomp.errno_action(errno.ENOLCK), fcntl, (1, seccomp.EQ, command, 0))
        rules.load()
    except OSError as error:
        raise FilterUnavailable(f"the kernel refused the seccomp filter: {error}") from error


def install_or_exit() -> None:
    """Install the filter, or end the harness before any student code runs (the grader reports why)."""
    try:
        install()
    except FilterUnavailable as error:
        sys.stderr.write(f"the sandbox refused to run student code without its system-call filter: {error}\n")
        sys.stderr.flush()
        os._exit(UNFILTERED_EXIT)
