"""Run a few lines of code in a real sandbox, as a notebook cell, and read back what the cell printed."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from autograder.sandbox.isolation import IsolationUnavailable, choose_mode
from autograder.sandbox.process import Limits, SandboxProcess, SandboxRun

MODES = ("bubblewrap", "user", "none")


def available(mode: str) -> str:
    """``mode`` if this machine provides it, else the test is skipped (CI provides both sandboxes)."""
    try:
        return choose_mode(mode)
    except IsolationUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide the {mode} sandbox: {error}")
        pytest.skip(f"{mode} isolation is not available here: {error}")


def run_cell(code: str, mode: str, limits: Limits | None = None) -> tuple[str, SandboxRun]:
    """The cell's printed output (its error appended) and how the sandbox ended."""
    job = {"cells": [{"id": "probe", "code": code}], "available_modules": ["torch"], "seed": 0,
           "models": {}, "other_filters": []}
    run = SandboxProcess(job, limits or Limits(total_seconds=60), available(mode)).wait()
    try:
        phases = json.loads((run.folder / "report.json").read_text())["phases"]
    except (OSError, ValueError, KeyError):
        phases = {}
    finally:
        shutil.rmtree(run.folder, ignore_errors=True)
    cell = phases.get("cell probe", {})
    return cell.get("output", "") + cell.get("error", ""), run
