"""PrairieLearn's results.json for each outcome of a grading, within its documented fields and 1 MB."""

from __future__ import annotations

from ..platform.grading import FAULT_MESSAGE, Outcome
from ..results import CheckResult, Verdict

MAX_TEXT = 100_000      # characters of the whole-run output; a results file over 1 MB is thrown away
MAX_TEST_TEXT = 2_000   # characters of each test's message and output


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ... (cut short)"


def _test(check: CheckResult) -> dict:
    return {
        "name": check.name,
        "description": f"{check.group} check",
        "points": check.score,
        "max_points": check.max_score,
        "message": _clip(check.summary, MAX_TEST_TEXT),
        "output": _clip(f"Hint: {check.hint}" if check.hint and not check.passed else "", MAX_TEST_TEXT),
    }


def graded(verdict: Verdict) -> dict:
    """One test per check, with its points and the reason for every lost point; one note per line."""
    return {
        "gradable": True,
        "score": verdict.score / verdict.max_score,
        "message": _clip("\n".join([f"{verdict.score:g} of {verdict.max_score:g} points.", *verdict.notes]), MAX_TEXT),
        "output": _clip(verdict.table(), MAX_TEXT),
        "tests": [_test(check) for check in verdict.checks],
    }


def not_gradable(reason: str) -> dict:
    """An upload that cannot be graded: PrairieLearn charges no attempt and shows the reason."""
    return {"gradable": False, "format_errors": [_clip(f"Not graded: {reason}.", MAX_TEST_TEXT)]}


def fault() -> dict:
    """The grader failed: not gradable either, so the student loses neither points nor an attempt."""
    return {"gradable": False, "format_errors": [FAULT_MESSAGE], "message": FAULT_MESSAGE}


def results_of(outcome: Outcome) -> dict:
    if outcome.verdict is not None:
        return graded(outcome.verdict)
    return not_gradable(outcome.not_gradable) if outcome.not_gradable else fault()
