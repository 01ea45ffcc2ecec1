"""A grading verdict, and its two renderings: a readable table and Gradescope's results.json."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CheckResult:
    name: str
    group: str
    score: float
    max_score: float
    reason: str = ""          # why points were lost; empty when the check passed
    hint: str = ""            # what to look at when it fails
    measured: str = ""        # the value the check measured against its bound, e.g. "0.913 ≥ 0.85"

    @property
    def summary(self) -> str:
        """The outcome in one line: the reason (or "passed") and the measured value, if any."""
        text = self.reason or "passed"
        return f"{text} (measured: {self.measured})" if self.measured else text

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass
class Verdict:
    submission: str
    checks: list[CheckResult]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)   # what stopped or limited grading
    details: dict = field(default_factory=dict)      # accuracies and layer shapes, for feedback
    provenance: dict = field(default_factory=dict)   # notebook_sha256, grader_version, isolation

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)

    def table(self) -> str:
        width = max(len(c.name) for c in self.checks)
        lines = [f"Grading {self.submission}", ""]
        lines += [f"     {'check'.ljust(width)}  points"]
        for check in self.checks:
            mark = "ok   " if check.passed else "FAIL "
            measured = f"  {check.measured}" if check.measured else ""
            lines.append(f"{mark}{check.name.ljust(width)}  {check.score:g}/{check.max_score:g}{measured}")
            if check.reason:
                lines.append(f"      -> {check.reason}")
        lines += ["", f"     {'total'.ljust(width)}  {self.score:g}/{self.max_score:g}"]
        lines += [f"  note: {note}" for note in self.notes]
        isolation = self.provenance.get("isolation", {})
        if isolation:
            lines.append(f"  isolation: {isolation.get('description', isolation.get('mode'))}")
        lines.append(f"  graded in {self.seconds:.1f} s")
        return "\n".join(lines)

    def gradescope(self) -> dict:
        """Gradescope's autograder results schema."""
        return {
            "score": self.score,
            "execution_time": round(self.seconds, 2),
            "output": "\n".join(self.notes) or "Graded by the hidden checks.",
            "tests": [
                {
                    "name": check.name,
                    "score": check.score,
                    "max_score": check.max_score,
                    "status": "passed" if check.passed else "failed",
                    "output": check.summary,
                    "visibility": "visible",
                    "tags": [check.group],
                    "extra_data": {**({"hint": check.hint} if not check.passed else {}),
                                   **({"measured": check.measured} if check.measured else {})},
                }
                for check in self.checks
            ],
            "extra_data": {**self.details, "provenance": self.provenance},
        }


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """A temporary path (``.<name>.*.tmp``) beside ``path`` to write to; renamed to ``path`` when the
    block succeeds, removed when it fails, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_target(path) as temporary, open(temporary, "w", newline="") as out:
        out.write(text)


def write_json_atomically(path: Path, data: dict) -> None:
    write_text_atomically(path, json.dumps(data, indent=2))
