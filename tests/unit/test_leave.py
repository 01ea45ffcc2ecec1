"""How a command ends (``autograder.leave``): without the interpreter's teardown, yet with everything a
finished command owes written: its buffered output, its exit handlers' work, its exit status, and the
output of a thread of its own still working."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from autograder.paths import ROOT

ENDS_WITH_HANDLERS = """
import atexit, sys, tempfile
from autograder.leave import leave
scratch = tempfile.TemporaryDirectory()          # removed by its finalizer, an exit handler
print(scratch.name)
atexit.register(lambda: print("handler ran"))
print("buffered, never flushed by hand")                # a pipe: block-buffered
leave(3)
"""

ENDS_WITH_A_WORKING_THREAD = """
import threading, time
from autograder.leave import leave
def late():
    time.sleep(0.5)
    print("the thread finished", flush=True)
threading.Thread(target=late).start()
leave(4)
"""


def _run(code: str, **output) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    output = output or {"capture_output": True}
    return subprocess.run([sys.executable, "-c", code], text=True, cwd=ROOT, env=environment, timeout=60, **output)


def test_a_command_leaves_with_its_status_its_output_and_its_exit_handlers_run():
    ended = _run(ENDS_WITH_HANDLERS)
    assert ended.returncode == 3, ended.stderr
    scratch, *rest = ended.stdout.splitlines()
    assert rest == ["buffered, never flushed by hand", "handler ran"]
    assert not Path(scratch).exists()


def test_a_thread_still_working_finishes_before_the_command_ends():
    ended = _run(ENDS_WITH_A_WORKING_THREAD)
    assert ended.returncode == 4, ended.stderr
    assert ended.stdout == "the thread finished\n"


def test_output_that_cannot_be_written_fails_a_successful_command():
    """As a normal exit would: a results table sent to a full disk is not a success."""
    with open("/dev/full", "w") as full:
        ended = _run("from autograder.leave import leave\nprint('the results')\nleave(0)", stdout=full,
                     stderr=subprocess.DEVNULL)
    assert ended.returncode == 120
