"""A sandbox that runs out of memory in the assignment's own first cell, before any of the submission's code
ran, shows a machine too small for grading: a grader error (the platforms' fault results), never a verdict.
Out of memory in the submission's own cells stays the submission's verdict."""

from __future__ import annotations

import pytest

from autograder.engine import grade
from autograder.sandbox.process import Ending, Limits, SandboxFailure
from autograder.settings import Settings
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow

MB = 1024**2


def test_a_sandbox_too_small_for_the_first_cell_gives_no_verdict():
    with pytest.raises(SandboxFailure, match="before any of the submission's code ran"):
        grade(SOLUTION, Settings(limits=Limits(memory_bytes=150 * MB)))


def test_memory_a_class_cell_hoards_is_the_submissions(tmp_path):
    hoarder = edited(SOLUTION, tmp_path, "hoarder", {"fc_class": [
        ("class FC(nn.Module):", "hoard = b'x' * (2500 * 1024**2)\n\n\nclass FC(nn.Module):")]})
    verdict = grade(hoarder, Settings(limits=Limits(memory_bytes=2000 * MB)))
    assert 0 < verdict.score < 100, verdict.notes
    assert any(Ending.MEMORY.value in note for note in verdict.notes), verdict.notes
