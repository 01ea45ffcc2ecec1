"""How the grader's commands end: once their work is written, without the interpreter's teardown.

With PyTorch loaded, Python's own teardown (every module, then PyTorch's C++ state) takes about a second
after a grading has finished and written its results: a tenth of a grading, spent on nothing anyone
reads. A command therefore runs the exit handlers (``atexit``: temporary folders, logging), flushes its
output and leaves by ``os._exit``, unless a thread of its own is still working, which then finishes
as usual."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import threading
from typing import NoReturn

UNWRITTEN_OUTPUT = 120   # Python's own status when it cannot flush its output at exit


def leave(code: int) -> NoReturn:
    """End the process with ``code``, or with ``UNWRITTEN_OUTPUT`` where a successful command's output
    could not be written (a full disk, a closed pipe), as a normal exit would."""
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()   # CPython's own exit step, which os._exit would skip
    written = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            written = False
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)   # what C code printed into its own buffers
    os._exit(UNWRITTEN_OUTPUT if code == 0 and not written else code)
