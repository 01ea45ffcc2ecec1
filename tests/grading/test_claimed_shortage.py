"""A notebook that fails with the words of a machine short of tasks ("Resource temporarily unavailable")
while it used few of them gets the verdict its failure earns, the same as any other error in the same
place, never a grader error that would hide that verdict: the grader grades it a second time, and without
its own sight of a shortage the second verdict stands (``autograder.shortage``)."""

from __future__ import annotations

import pytest

from autograder.engine import grade
from submissions import SOLUTION, edited

pytestmark = pytest.mark.slow

TRAIN_START = "    device = next(model.parameters()).device\n"


@pytest.mark.parametrize("words", ["raise BlockingIOError(11, 'Resource temporarily unavailable')",
                                   "raise RuntimeError(\"can't start new thread\")"])
def test_words_of_a_shortage_earn_what_any_error_earns(tmp_path, words):
    claims = edited(SOLUTION, tmp_path, "claims", {"train_model": [(TRAIN_START, f"    {words}\n{TRAIN_START}")]})
    plain = edited(SOLUTION, tmp_path, "plain", {"train_model": [(TRAIN_START, f"    raise ValueError('no')\n{TRAIN_START}")]})
    claimed, failed = grade(claims), grade(plain)
    assert [(c.name, c.score) for c in claimed.checks] == [(c.name, c.score) for c in failed.checks]
    assert 0 < claimed.score < claimed.max_score
    assert any("did not see the machine short" in note for note in claimed.notes), claimed.notes
