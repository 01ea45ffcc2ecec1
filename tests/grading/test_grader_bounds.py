"""The grader's own bounds on one submission's checks (``autograder.bounds``): when the memory or CPU
time they allow runs out, the checks that needed more fail with the reason, the verdict is complete and
the grader survives; a process whose memory bound was reached grades no more. Each case runs in a
process of its own, since reaching the memory bound spends the process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autograder.paths import ROOT, SOURCE_NOTEBOOK

GRADE = """
import json, sys
from pathlib import Path
from autograder.engine import grade
from autograder.failures import GraderError
from autograder.settings import Settings
settings = Settings(grader_memory_bytes={memory}, grader_cpu_seconds={cpu})
verdict = grade(Path({notebook!r}), settings=settings)
try:
    grade(Path({notebook!r}))
    again = 'graded'
except GraderError as error:
    again = str(error)
print(json.dumps({{"checks": [[c.name, c.score, c.max_score, c.reason] for c in verdict.checks], "again": again}}))
"""
NOTEBOOK = str(SOURCE_NOTEBOOK)
MEMORY_REASON = "could not be checked: it needed more memory than the grader gives one submission's checks"


def graded(memory: int, cpu: float) -> dict:
    result = subprocess.run([sys.executable, "-c", GRADE.format(memory=memory, cpu=cpu, notebook=NOTEBOOK)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.slow
def test_checks_past_the_memory_bound_fail_and_the_process_grades_no_more():
    outcome = graded(memory=20 * 1024**2, cpu=600.0)
    checks = outcome["checks"]
    assert len(checks) == 24
    failed = [check for check in checks if check[1] < check[2]]
    assert failed and all(check[3] == MEMORY_REASON for check in failed), failed
    assert any(name.endswith("test accuracy after the grader's training") for name, *_ in failed)
    assert outcome["again"] == ("an earlier grading in this process reached the grader's memory bound; "
                                "grade in a new process")


@pytest.mark.slow
def test_checks_past_the_cpu_budget_fail_with_the_reason():
    outcome = graded(memory=3 * 1024**3, cpu=3.0)
    failed = {name: reason for name, score, most, reason in outcome["checks"] if score < most}
    assert len(outcome["checks"]) == 24 and failed
    for name, reason in failed.items():
        assert name.endswith("test accuracy after the grader's training"), (name, reason)
        assert "training took more than" in reason or reason == (
            "not checked: the grader's 3 s of CPU time for one submission were spent on the checks before it")
    assert outcome["again"] == "graded"


# The grader's graph loader (early, while the sandbox runs, and for the checks: ``head_start``) replaced
# by one that also writes into PyTorch's Module class, as a loader led astray by a record no screen
# foresaw would (``autograder/tamper.py``).
TAMPERED = """
import json, sys, torch
from pathlib import Path
import autograder.head_start as head_start
from autograder.engine import grade
from autograder.failures import GraderError
load = head_start.exported_from
def loading_that_writes(*args, **kwargs):
    torch.nn.Module.extra_attribute = lambda self: len(args)
    return load(*args, **kwargs)
head_start.exported_from = loading_that_writes
verdict = grade(Path({notebook!r}))
try:
    grade(Path({notebook!r}))
    again = 'graded'
except GraderError as error:
    again = str(error)
print(json.dumps({{"checks": [[c.name, c.score, c.max_score, c.reason] for c in verdict.checks],
                  "notes": verdict.notes, "again": again}}))
"""


@pytest.mark.slow
def test_a_grading_that_changed_the_graders_classes_counts_no_check_and_the_process_grades_no_more():
    result = subprocess.run([sys.executable, "-c", TAMPERED.format(notebook=NOTEBOOK)],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert len(outcome["checks"]) == 24 and all(score == 0 for _, score, _, _ in outcome["checks"])
    assert all(reason.startswith("not counted: the grader's own code changed") and "Module.extra_attribute" in reason
               for *_, reason in outcome["checks"])
    assert outcome["notes"][0].startswith("not counted")
    assert outcome["again"] == "an earlier grading in this process changed the grader's own code; grade in a new process"
