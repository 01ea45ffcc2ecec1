"""The few libseccomp calls the filter needs, bound with ctypes and loaded by soname.

Why not a binding package: the one on PyPI looks the library up with ``ctypes.util.find_library``,
which runs ``ldconfig -p`` (it reads ``/etc/ld.so.cache``, unreadable as the sandbox's uid inside some
bubblewrap versions) and then falls back to a C compiler and the development package; a fresh machine
has neither. ``dlopen`` of the soname needs none of that: the dynamic loader searches its cache when it
can read it and the system's library folders when it cannot. So the harness needs the runtime package
alone (Debian/Ubuntu ``libseccomp2``, Fedora ``libseccomp``, Arch ``libseccomp``).
"""

from __future__ import annotations

import ctypes
import os

SONAME = "libseccomp.so.2"
ALLOW = 0x7FFF0000                          # SCMP_ACT_ALLOW
KILL_PROCESS = 0x80000000                   # SCMP_ACT_KILL_PROCESS
ATTR_ACT_BADARCH = 2                        # SCMP_FLTATR_ACT_BADARCH
ATTR_CTL_TSYNC = 4                          # SCMP_FLTATR_CTL_TSYNC
# enum scmp_compare
NE, LT, LE, EQ, GE, GT, MASKED_EQ = range(1, 8)
NOT_A_CALL = -1                             # __NR_SCMP_ERROR: the name is unknown to this libseccomp


def errno_action(number: int) -> int:
    """SCMP_ACT_ERRNO: the call fails with ``number`` instead of running."""
    return 0x00050000 | (number & 0xFFFF)


class ArgCompare(ctypes.Structure):
    """struct scmp_arg_cmp: argument ``arg`` compared by ``op`` with ``datum_a`` (``datum_b``: the value
    that ``MASKED_EQ`` expects after masking with ``datum_a``)."""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def load() -> ctypes.CDLL:
    """The library with the signatures used here; OSError when it is not installed."""
    library = ctypes.CDLL(SONAME, use_errno=True)
    library.seccomp_init.argtypes = (ctypes.c_uint32,)
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_release.argtypes = (ctypes.c_void_p,)
    library.seccomp_release.restype = None
    library.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
    library.seccomp_attr_set.restype = ctypes.c_int
    library.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
    library.seccomp_syscall_resolve_name.restype = ctypes.c_int
    library.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgCompare))
    library.seccomp_rule_add_array.restype = ctypes.c_int
    library.seccomp_load.argtypes = (ctypes.c_void_p,)
    library.seccomp_load.restype = ctypes.c_int
    return library


class Filter:
    """A filter under construction: rules added one by one, then loaded into the calling process."""

    def __init__(self, default_action: int) -> None:
        self._library = load()
        self._context = self._library.seccomp_init(default_action)
        if not self._context:
            raise OSError("seccomp_init failed")

    def __del__(self) -> None:
        if getattr(self, "_context", None):
            self._library.seccomp_release(self._context)

    def set_attribute(self, attribute: int, value: int) -> None:
        self._checked(self._library.seccomp_attr_set(self._context, attribute, value), "seccomp_attr_set")

    def resolve(self, name: str) -> int:
        """The call's number on this machine (a negative stand-in where it is multiplexed, as ``ipc`` is),
        ``NOT_A_CALL`` where this libseccomp does not know it."""
        return int(self._library.seccomp_syscall_resolve_name(name.encode()))

    def add_rule(self, action: int, call: int, *comparisons: tuple[int, int, int, int]) -> None:
        """``action`` for ``call`` when every (argument, operator, a, b) comparison holds."""
        array = (ArgCompare * max(1, len(comparisons)))(*(ArgCompare(*c) for c in comparisons))
        self._checked(self._library.seccomp_rule_add_array(self._context, action, call, len(comparisons), array),
                      f"seccomp_rule_add for call {call}")

    def load(self) -> None:
        self._checked(self._library.seccomp_load(self._context), "seccomp_load")

    @staticmethod
    def _checked(result: int, what: str) -> None:
        if result < 0:
            raise OSError(-result, f"{what}: {os.strerror(-result)}")
