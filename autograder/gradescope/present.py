"""What a student sees on Gradescope: the verdict as Gradescope's results.json, with the instructor's
visibility choices and each check's outcome written in Markdown (``output_format: "md"``)."""

from __future__ import annotations

import re

from ..hints import hint_at
from ..platform.grading import FAULT_MESSAGE
from ..results import CheckResult, Verdict
from .config import BundleConfig

_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>#|~!])")


def md_escape(text: str) -> str:
    """Text shown literally in Markdown: reasons quote the student's code, which must not become links,
    images or HTML."""
    return _MARKDOWN.sub(r"\\\1", text)


def check_markdown(check: CheckResult, hints: str = "full") -> str:
    lines = ["**Passed.**" if check.passed else md_escape(check.reason)]
    if check.measured:
        lines.append(f"Measured: `{check.measured}`")
    hint = hint_at(hints, check.hint, check.name, check.group)
    if hint and not check.passed:
        lines.append(f"*Hint:* {md_escape(hint)}")
    return "\n\n".join(lines)


def shown(results: dict, config: BundleConfig) -> dict:
    """``results`` with the bundle's visibility of the printed output, and Markdown as the format."""
    return {**results, "output_format": "md", "stdout_visibility": config.stdout_visibility}


def graded(verdict: Verdict, config: BundleConfig) -> dict:
    """A graded submission: one test per check, each shown as the instructor chose."""
    results = verdict.gradescope()
    results["output"] = md_escape(results["output"])
    for test, check in zip(results["tests"], verdict.checks, strict=True):
        test.update(output=check_markdown(check, config.hints), output_format="md", visibility=config.visibility)
        if config.hints != "full":   # the results file is the students' to read: it keeps only what they are shown
            test["extra_data"].pop("hint", None)
    return shown(results, config)


def not_graded(reason: str, config: BundleConfig) -> dict:
    """An upload that cannot be graded: 0 points and what to upload instead."""
    return shown({"score": 0, "output": md_escape(f"Not graded: {reason}."), "tests": []}, config)


def fault(config: BundleConfig) -> dict:
    """The grader itself failed: 0 points for now, and a message that it is not the student's fault."""
    return shown({"score": 0, "output": FAULT_MESSAGE, "tests": []}, config)
