"""The harness's report, read as hostile data: a bounded parse, then a schema for every section.

A section that does not fit its schema is dropped, and the checks that need it score 0 with the
reason; nothing in a report can crash the grader or reach it unbounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

MAX_REPORT_BYTES = 8 * 1024**2
MAX_EVENTS = 10_000
EVENTS = {"forward", "loss", "backward", "step"}


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and len(value) <= limit


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


_PHASE = _record({"output": _text(2000), "output_dropped": _whole, "seconds": _number}, {"error": _text(1000)})
_FLAG = lambda value: isinstance(value, bool)  # noqa: E731
_ROWS = _list_of(lambda v: _whole(v) and 0 <= v < 100_000, 100_000)
_EVENT = _record({"event": lambda v: v in EVENTS},
                 {"index": _whole, "training": _FLAG, "grad_enabled": _FLAG, "train_rows": _ROWS, "test_rows": _ROWS,
                  "forward": _optional(_whole), "stale": _FLAG})
_LOOP_RUN = _record({"events": _list_of(_EVENT, MAX_EVENTS), "test_acc": _optional(_list_of(_number, 1000))})
SECTIONS: dict[str, Callable[[Any], bool]] = {
    "phases": _mapping(_text(80), _PHASE, 200),
    "criterion": _record({"type": _text(300)}, {"value": _number}),
    "optimizer": _record({"type": _text(300)}, {"lr": _list_of(_number, 100), "parameters": _list_of(_text(200), 1000)}),
    "loop": _mapping(lambda k: k in ("1", "2"), _LOOP_RUN, 2),
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
