"""The warm sandbox of a batch (``autograder/sandbox/warm.py``): nothing one submission does reaches the
next one forked from the same zygote, and forked gradings score exactly as cold ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from autograder.sandbox.isolation import Mode
from autograder.sandbox.process import Limits, SandboxProcess
from conftest import ROOT
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow

# Reaches for everything the process can touch: the modules (PyTorch, the course's helpers, the standard
# library, builtins), the writable folders (modules planted where a later import would find them, a folder
# locked against removal), its own limits and priority, every process it may signal, and a daemon that
# keeps writing. Its own grading may fail: only the next one matters.
POISON = r'''
import builtins, json, os, resource, signal, sys, time
import torch, helpers


def attempt(action, *args):
    try:
        action(*args)
    except Exception:
        pass


def plant(folder):
    for name in ("poison.txt", "statistics.py", "fractions.py", "sitecustomize.py"):
        with open(os.path.join(folder, name), "w") as planted:
            planted.write("raise SystemExit('poisoned import')\n")
    os.makedirs(os.path.join(folder, "locked", "inner"), exist_ok=True)
    open(os.path.join(folder, "locked", "inner", "kept"), "w").close()
    os.chmod(os.path.join(folder, "locked", "inner"), 0)
    os.chmod(os.path.join(folder, "locked"), 0)
    os.makedirs(os.path.join(folder, "torchsummary"), exist_ok=True)
    with open(os.path.join(folder, "torchsummary", "__init__.py"), "w") as planted:
        planted.write("raise SystemExit('poisoned import')\n")
    os.chmod(os.path.join(folder, "torchsummary"), 0o100)   # enter, but not list


torch.Tensor.add = lambda self, other, **kwargs: self
torch.nn.Module.eval = lambda self: self
torch.manual_seed = lambda seed: None
json.dumps = lambda *args, **kwargs: "{}"
helpers.accuracy = lambda *args, **kwargs: 1.0
builtins.sorted = lambda values, **kwargs: list(values)
for folder in {"/tmp", "/dev/shm", "/sandbox", os.path.expanduser("~")}:
    attempt(plant, folder)
    attempt(os.chmod, folder, 0o555)
attempt(os.setpriority, os.PRIO_PROCESS, 0, 19)
attempt(os.setpriority, os.PRIO_USER, os.getuid(), 19)
attempt(resource.setrlimit, resource.RLIMIT_NOFILE, (16, 16))
for pid in set(range(1, 400)) - {os.getpid()}:
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        attempt(os.kill, pid, sig)
if os.fork() == 0:
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while True:
        attempt(lambda: open("/tmp/daemon.txt", "a").write("still here\n"))
        time.sleep(0.05)
'''

# What only a process that shares the zygote's process group could do to it (in one cold sandbox it would
# stop the poisoner itself): stop it, lower the priority of every process forked from it.
GROUP = r'''
attempt(os.setpriority, os.PRIO_PGRP, 0, 19)
attempt(os.kill, 0, signal.SIGSTOP)
attempt(os.kill, os.getppid(), signal.SIGSTOP)
'''

# A correct submission that also fails a cell (and so loses points) if anything of the poison is left.
DETECTOR = r'''
import builtins, json, os, resource
import torch, helpers
left = []
if "add" in vars(torch.Tensor):
    left.append("torch.Tensor.add was replaced")
if torch.nn.Module.eval.__qualname__ != "Module.eval":
    left.append("Module.eval was replaced")
if json.dumps([1]) != "[1]":
    left.append("json.dumps was replaced")
if helpers.accuracy.__module__ != "helpers.training":
    left.append("helpers.accuracy was replaced")
if builtins.sorted([2, 1]) != [1, 2]:
    left.append("sorted was replaced")
for folder in ("/tmp", "/dev/shm", "/sandbox"):
    if os.listdir(folder) or not os.access(folder, os.W_OK):
        left.append(f"{folder} holds {sorted(os.listdir(folder))} or is closed")
if os.getpriority(os.PRIO_PROCESS, 0) != 0:
    left.append("the priority was lowered")
if resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= 16:
    left.append("the open-file limit was lowered")
try:
    os.kill(-1, 0)
    left.append("another process is running beside this submission")
except ProcessLookupError:
    pass
assert not left, "; ".join(left)
'''


def _with(code: str, scratch, name: str):
    return edited(SOLUTION, scratch, name, {"fc_params": [("### BEGIN SOLUTION", code + "\n### BEGIN SOLUTION")]})


def test_a_poisoned_zygote_child_leaves_nothing_to_the_next(tmp_path):
    course, scratch = tmp_path / "course", tmp_path / "made"
    scratch.mkdir()
    made = {"a-poison": _with(POISON + GROUP, scratch, "poison"), "b-detector": _with(DETECTOR, scratch, "detector"),
            "c-poison": _with(POISON + GROUP, scratch, "poison2"), "d-solution": SOLUTION}
    for student, source in made.items():
        folder = course / "submitted" / student / "cnn"
        folder.mkdir(parents=True)
        (folder / "cnn.ipynb").write_bytes(source.read_bytes())
    done = subprocess.run([sys.executable, "-m", "autograder", "batch", str(course), "--jobs", "1"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]

    def results(student: str) -> dict:
        return json.loads((course / "autograded" / student / "cnn" / "results.json").read_text())

    for student in ("b-detector", "d-solution"):
        graded = results(student)
        assert graded["score"] == 100, [
            (test["name"], test.get("output", "")[:300]) for test in graded["tests"] if test["score"] < test["max_score"]]
        assert "warm: forked from a zygote" in json.dumps(graded), "the batch did not use its warm sandbox"


def test_the_detector_sees_every_poison_left_in_its_process():
    """Run in one cold sandbox, the poison's every effect is seen: so the detector's 100 above means none
    was left, not that it looked away."""
    job = {"cells": [{"id": "poison", "code": POISON}, {"id": "detector", "code": "import time\ntime.sleep(0.3)\n" + DETECTOR}],
           "models": {}, "other_filters": [], "seed": 1, "available_modules": []}
    run = SandboxProcess(job, Limits(), Mode.BUBBLEWRAP).wait()
    try:
        seen = json.loads((run.folder / "report.json").read_text())["phases"]["cell detector"]["error"]
    finally:
        shutil.rmtree(run.folder, ignore_errors=True)
    for effect in ("torch.Tensor.add", "Module.eval", "json.dumps", "helpers.accuracy", "sorted", "/tmp holds",
                   "/dev/shm holds", "/sandbox holds", "priority", "open-file limit", "another process"):
        assert effect in seen, (effect, seen)
