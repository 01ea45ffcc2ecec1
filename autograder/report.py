"""The harness's report, read as hostile data: a bounded parse, then a schema for every section.

A section that does not fit its schema is dropped, and the checks that need it score 0 with the
reason; nothing in a report can crash the grader or reach it unbounded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandbox.harness.contract import (
    ERROR_KEPT,
    LOOP_EPOCHS,
    MAX_ACCURACIES,
    MAX_COUNT,
    MAX_PHASES,
    OPTIMIZER_CHOICES,
    OUTPUT_KEPT,
)

MAX_REPORT_BYTES = 8 * 1024**2


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and len(value) <= limit


def _number(value: Any) -> bool:
    """A finite number of bounded size (a huge integer would cost time and space to format)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return -MAX_COUNT <= value <= MAX_COUNT if isinstance(value, int) else math.isfinite(value)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


def _list_of(test: Callable[[Any], bool], limit: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and len(value) <= limit and all(map(test, value))


def _record(required: dict, optional: dict | None = None) -> Callable[[Any], bool]:
    """A dict with exactly the ``required`` keys, maybe some ``optional`` ones, each passing its test."""
    optional = optional or {}

    def test(value: Any) -> bool:
        if not isinstance(value, dict) or not set(required) <= set(value) <= set(required) | set(optional):
            return False
        return all({**required, **optional}[key](item) for key, item in value.items())
    return test


def _mapping(key_test: Callable[[Any], bool], value_test: Callable[[Any], bool], limit: int) -> Callable[[Any], bool]:
    return lambda value: (isinstance(value, dict) and len(value) <= limit
                          and all(key_test(k) and value_test(v) for k, v in value.items()))


_PHASE = _record({"output": _text(OUTPUT_KEPT), "output_dropped": _whole, "seconds": _number},
                 {"error": _text(ERROR_KEPT)})
_FLAG = lambda value: isinstance(value, bool)  # noqa: E731
_SETTING = _optional(lambda value: _number(value) or _FLAG(value))
_GROUP = _record({key: _SETTING for key in OPTIMIZER_CHOICES})
_LOOP_RUN = _record({"test_acc": _optional(_list_of(_optional(_number), MAX_ACCURACIES))})
SECTIONS: dict[str, Callable[[Any], bool]] = {
    "phases": _mapping(_text(80), _PHASE, MAX_PHASES),
    "criterion": _record({"type": _text(300)}, {"value": _optional(_number)}),
    "optimizer": _record({"type": _text(300)}, {"groups": _list_of(_GROUP, 100)}),
    "loop": _mapping(lambda key: key in {str(epochs) for epochs in LOOP_EPOCHS}, _LOOP_RUN, len(LOOP_EPOCHS)),
    "complete": lambda v: v is True,
}


@dataclass
class Report:
    """The valid sections of a report, and why each invalid one was dropped."""

    sections: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)

    def get(self, key: str, default=None):
        return self.sections.get(key, default)


def parse_report(raw: bytes) -> Report:
    """Validate ``raw`` (the report's bytes) section by section."""
    if len(raw) > MAX_REPORT_BYTES:
        return Report(problems={key: "the sandbox's report is too large" for key in SECTIONS})
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return Report(problems={key: "the sandbox's report is not valid JSON" for key in SECTIONS})
    if not isinstance(data, dict):
        return Report(problems={key: "the sandbox's report is not a JSON object" for key in SECTIONS})
    report = Report()
    for key, test in SECTIONS.items():
        if key not in data:
            continue
        try:
            valid = test(data[key])
        except RecursionError:
            valid = False
        if valid:
            report.sections[key] = data[key]
        else:
            report.problems[key] = f"the sandbox's report of '{key}' is malformed"
    return report


def load_report(path: Path) -> Report:
    """The report in ``path``; an empty one when the sandbox sent none."""
    try:
        return parse_report(path.read_bytes()) if path.is_file() else Report()
    except OSError:
        return Report()
