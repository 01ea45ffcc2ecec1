"""A sandbox uid belongs to one grader on the whole kernel, even to graders that do not share
``/run/lock`` (two containers, a chroot): a uid that runs a process or owns a file is not free, and the
clean-up ends only its own sandbox's processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from autograder.sandbox import isolation
from autograder.sandbox.isolation import SANDBOX_UIDS, IsolationUnavailable, sandbox_uid
from sandbox_cells import available, run_cell

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandbox uids are claimed by a root grader")
UID = SANDBOX_UIDS[-2]


def _as(uid: int, *command: str, namespace: bool = False) -> subprocess.Popen:
    """``command`` running as ``uid``, in a PID namespace of its own when ``namespace``: another grader's
    sandbox, which this grader's /run/lock knows nothing of."""
    prefix = ["unshare", "--pid", "--fork"] if namespace else []
    return subprocess.Popen([*prefix, "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command])


def _alive(uid: int) -> bool:
    return bool(isolation.processes_of(uid))


def test_a_uid_that_runs_a_process_is_not_claimed(monkeypatch):
    monkeypatch.setattr(isolation, "SANDBOX_UIDS", range(UID, UID + 2))
    other = _as(UID, "sleep", "60")
    try:
        time.sleep(0.3)
        with sandbox_uid() as uid:
            assert uid == UID + 1
            assert _alive(UID)
    finally:
        other.kill()
        other.wait()


def test_a_uid_that_owns_a_file_is_not_claimed(monkeypatch, tmp_path):
    monkeypatch.setattr(isolation, "SANDBOX_UIDS", range(UID, UID + 1))
    left = "/dev/shm/left-by-another-grader"
    subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "touch", left], check=True)
    try:
        with pytest.raises(IsolationUnavailable, match="in use"), sandbox_uid():
            pass
        assert os.path.exists(left)   # another grader's file: not ours to remove
    finally:
        os.unlink(left)


def test_the_clean_up_spares_a_process_of_the_same_uid_in_another_namespace(monkeypatch):
    """The other grader started its sandbox after this one claimed the uid (it could not see this one's
    processes from its own PID namespace): this grader's clean-up must not kill it."""
    mode = available("user")
    monkeypatch.setattr(isolation, "SANDBOX_UIDS", range(UID, UID + 1))
    others: list[subprocess.Popen] = []
    starter = threading.Timer(2.0, lambda: others.append(_as(UID, "sleep", "60", namespace=True)))
    starter.start()
    try:
        output, run = run_cell("import time\ntime.sleep(5)\nprint('slept')", mode)
        assert output.strip() == "slept", output + run.stderr_tail
        assert others and others[0].poll() is None, "the other grader's sandbox process was killed"
    finally:
        starter.join()
        isolation.kill_user(UID, None)   # the other grader's own clean-up
        for other in others:
            other.wait()


def test_a_killed_grader_leaves_no_uid_claimed():
    """A grader killed outright (for its memory, say) runs no clean-up: its marker dies with it, so the uid
    is free again rather than claimed for ever."""
    grader = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from autograder.sandbox.isolation import sandbox_uid\n"
        "with sandbox_uid() as uid:\n"
        "    print(uid, flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert grader.stdout is not None
    uid = int(grader.stdout.readline())
    assert _alive(uid)
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 5
    while _alive(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(uid)
