"""How the grader's commands end: once their work is written, without the interpreter's teardown.

With PyTorch loaded, Python's own teardown (every module, then PyTorch's C++ state) takes about a second
after a grading has finished and written its results: a tenth of a grading, spent on nothing anyone
reads. A command therefore runs the exit handlers (``atexit``: temporary folders, logging), flushes its
output and leaves by ``os._exit``, unless a thread of its own is still working, which then finishes
as usual."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def leave(code: int) -> NoReturn:
    if any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
           if thread is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
