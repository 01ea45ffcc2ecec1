"""Landlock: the kernel's own confinement of what a process may touch on the filesystem, used by the
separate-user sandbox, which has no mount namespace to hide the rest of the machine.

The grader builds a ruleset before it starts the sandbox (``ruleset``: read and execute beneath the
listed folders, everything beneath the writable ones, nothing anywhere else; no TCP; no abstract unix
sockets or signals outside the sandbox where the kernel can scope them) and the sandbox's process
enforces it on itself just before it becomes the harness (``enforce``). Every process it starts
inherits it. Plain system calls through ctypes: no package needed. Where the kernel has no Landlock
(before 5.13, or not enabled, or refused by a container's filter) ``abi`` is 0 and nothing is enforced.
"""

from __future__ import annotations

import ctypes
import os
import struct

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446   # the same number on every architecture
VERSION = 1                                               # LANDLOCK_CREATE_RULESET_VERSION
PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
TRUNCATE, IOCTL_DEV = 1 << 14, 1 << 15
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV   # all a rule on a single file may hold
READ = EXECUTE | READ_FILE | READ_DIR
PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _call(number: int, *args) -> int:
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


def abi() -> int:
    """The Landlock version this kernel offers to this process (0: none)."""
    try:
        return _call(CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(VERSION))
    except OSError:
        return 0


def handled_filesystem_rights(version: int) -> int:
    """Every filesystem right the kernel of ``version`` knows: those not granted below are refused."""
    rights = (1 << 13) - 1                                 # v1: execute ... make_sym
    rights |= (1 << 13) if version >= 2 else 0             # refer
    rights |= TRUNCATE if version >= 3 else 0
    rights |= IOCTL_DEV if version >= 5 else 0
    return rights


def ruleset(readable: list[str], writable: list[str]) -> int | None:
    """A ruleset file descriptor granting read and execute beneath ``readable`` and everything beneath
    ``writable`` (missing paths are skipped), or None without Landlock. The caller closes it."""
    version = abi()
    if version == 0:
        return None
    handled = handled_filesystem_rights(version)
    attr = struct.pack("QQQ", handled, 3 if version >= 4 else 0, 3 if version >= 6 else 0)   # no TCP; scopes
    size = 8 if version < 4 else 16 if version < 6 else 24
    fd = _call(CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        for paths, rights in ((readable, READ), (writable, handled)):
            for path in paths:
                _allow(fd, path, rights)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _allow(ruleset_fd: int, path: str, rights: int) -> None:
    try:
        target = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS
        rule = struct.pack("=Qi", rights, target)
        _call(ADD_RULE, ctypes.c_int(ruleset_fd), ctypes.c_int(PATH_BENEATH), ctypes.c_char_p(rule), ctypes.c_uint32(0))
    finally:
        os.close(target)


def enforce(ruleset_fd: int) -> None:
    """Confine the calling process (and all it will start) to the ruleset, for good."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "no_new_privs")
    _call(RESTRICT_SELF, ctypes.c_int(ruleset_fd), ctypes.c_uint32(0))
