"""A verdict under load is the verdict on a quiet machine: correct notebooks graded side by side, while
a CPU hog runs and a crowd of threads of the grader's own user starts after them, each earn every point.

The gradings run as an unprivileged user, so that bubblewrap runs the sandbox in a user namespace as the
grader's uid: the mode in which the sandbox's process limit used to count every task of that uid, so
that whatever the grader's user started after a sandbox made its ``fork`` and ``pthread_create`` fail
("Resource temporarily unavailable"). Run as root, the test drops to ``nobody`` for the gradings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder.sandbox.isolation import _closed_python, bubblewrap_works
from classmates import solution_answers, submit

pytestmark = [pytest.mark.slow, pytest.mark.extended]

GRADINGS = 2           # correct notebooks graded at once (more would be slow on a 2-core machine)
CROWD_THREADS = 200    # sleeping threads of the grader's user, started once the sandboxes are running
CROWD_DELAY = 3.0      # seconds after the gradings start
NOBODY = 65534
PROJECT = Path(__file__).resolve().parents[2]   # ``-m autograder`` imports the package from the working folder

# As root, in a mount namespace of its own: the folder that closes the Python installation to other users
# (root's home, for a Python installed there) becomes a passable folder holding the same entries, then the
# command runs as ``nobody``. Nothing outside that namespace changes.
_OPEN_AND_DROP = r"""
closed=$1; shift
view=$(mktemp -d)
mount --bind "$closed" "$view" && mount -t tmpfs -o mode=755 tmpfs "$closed" || exit 90
for entry in "$view"/* "$view"/.[!.]*; do
    [ -e "$entry" ] && [ ! -L "$entry" ] || continue
    target="$closed/${entry##*/}"
    if [ -d "$entry" ]; then mkdir "$target"; else touch "$target"; fi
    mount --bind "$entry" "$target" || exit 91
done
exec setpriv --reuid=NOBODY --regid=NOBODY --clear-groups "$@"
""".replace("NOBODY", str(NOBODY))

CROWD = f"""
import threading, time
for _ in range({CROWD_THREADS}):
    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
"""
HOG = "while True: pass"


def _as_grader(command: list[str]) -> list[str]:
    """``command`` as the unprivileged user the gradings run as."""
    if os.geteuid() != 0:
        return command
    closed = _closed_python()
    if closed is None:
        return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    return ["unshare", "--mount", "--propagation", "private", "bash", "-c", _OPEN_AND_DROP, "bash", str(closed),
            *command]


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder the unprivileged grader may read and write."""
    folder = Path(tempfile.mkdtemp(prefix="grade-under-load-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _readable(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def test_correct_notebooks_graded_under_load_earn_every_point(shared_folder):
    if os.geteuid() == 0 and (shutil.which("unshare") is None or shutil.which("setpriv") is None):
        pytest.skip("unshare and setpriv are needed to grade as an unprivileged user")
    if not bubblewrap_works():
        pytest.skip("bubblewrap cannot create its namespaces here")
    notebooks = [submit(shared_folder, f"student{i}", solution_answers()) for i in range(GRADINGS)]
    _readable(shared_folder)
    env = dict(os.environ, HOME=str(shared_folder), MNIST_ROOT=os.environ["MNIST_ROOT"])
    started: list[subprocess.Popen] = []
    try:
        hog = subprocess.Popen([sys.executable, "-c", HOG])
        started.append(hog)
        gradings = []
        for notebook in notebooks:
            results = notebook.with_suffix(".json")
            gradings.append((results, subprocess.Popen(
                _as_grader([sys.executable, "-m", "autograder", "grade", str(notebook), "--json", str(results)]),
                cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)))
            started.append(gradings[-1][1])
        time.sleep(CROWD_DELAY)
        crowd = subprocess.Popen(_as_grader([sys.executable, "-c", CROWD]), env=env, stdout=subprocess.PIPE, text=True)
        started.append(crowd)
        assert crowd.stdout is not None and crowd.stdout.readline().strip() == "ready"
        for results, grading in gradings:
            printed, _ = grading.communicate(timeout=600)
            assert grading.returncode == 0, printed[-3000:]
            verdict = json.loads(results.read_text())
            assert verdict["score"] == 100, printed[-3000:]
            assert "a user namespace" in printed, printed[-500:]   # the mode the load fell on
    finally:
        for process in started:
            _stop(process)
