"""Run a few lines of code in a real sandbox, as a notebook cell, and read back what the cell printed.

Besides the isolation modes, ``warm``: a child of a warm sandbox (``autograder/sandbox/warm.py``), as a
batch runs; one zygote per set of limits serves every test of the session."""

from __future__ import annotations

import atexit
import json
import os
import shutil

import pytest

from autograder.sandbox.isolation import IsolationUnavailable, Mode, choose_mode
from autograder.sandbox.process import Limits, SandboxProcess, SandboxRun
from autograder.sandbox.warm import WarmSandbox, Zygote

MODES = ("bubblewrap", "warm", "user", "none")
WARM = "warm"
_ZYGOTES: dict[tuple[int, int], WarmSandbox] = {}


def available(mode: str) -> str:
    """``mode`` if this machine provides it, else the test is skipped (CI provides both sandboxes)."""
    try:
        return choose_mode(Mode.BUBBLEWRAP if mode == WARM else mode)
    except IsolationUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the {mode} sandbox: {error}")
        pytest.skip(f"{mode} isolation is not available here: {error}")


def zygote_for(limits: Limits) -> Zygote:
    """The session's warm sandbox for these limits (a new one where the last one broke)."""
    key = (limits.scratch_bytes, limits.processes)
    if key not in _ZYGOTES:
        _ZYGOTES[key] = WarmSandbox(limits)
        atexit.register(_ZYGOTES[key].close)
    warm = _ZYGOTES[key]
    zygote = warm.get()
    if zygote is None:
        pytest.fail(f"the warm sandbox could not start: {warm.why_cold}")
    return zygote


def start(job: dict, mode: str, limits: Limits) -> SandboxProcess:
    """A sandbox running ``job`` in ``mode`` (``warm`` included)."""
    if mode == WARM:
        return SandboxProcess(job, limits, Mode(available(mode)), zygote=zygote_for(limits))
    return SandboxProcess(job, limits, available(mode))


def run_cell(code: str, mode: str, limits: Limits | None = None) -> tuple[str, SandboxRun]:
    """The cell's printed output (its error appended) and how the sandbox ended."""
    job = {"cells": [{"id": "probe", "code": code}], "available_modules": ["torch"], "seed": 0,
           "models": {}, "other_filters": []}
    run = start(job, mode, limits or Limits(total_seconds=60)).wait()
    try:
        phases = json.loads((run.folder / "report.json").read_text())["phases"]
    except (OSError, ValueError, KeyError):
        phases = {}
    finally:
        shutil.rmtree(run.folder, ignore_errors=True)
    cell = phases.get("cell probe", {})
    return cell.get("output", "") + cell.get("error", ""), run
