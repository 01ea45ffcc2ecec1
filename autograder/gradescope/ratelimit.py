"""An optional limit on graded submissions, so that the hidden checks cannot be used as an oracle.

Gradescope lists the student's earlier submissions, with their times and results, in
``/autograder/submission_metadata.json``. A submission counts against the limit when its results hold
the checks (it was graded) and are not marked ``extra_data.rate_limited`` (this module's mark on the
submissions it turned away); uploads that were not graded at all (no notebook, a grader fault) do not
count. Times are judged from the current submission's ``created_at``, never the clock, so a regrade
decides as the first run did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

MARK = "rate_limited"


class MetadataError(ValueError):
    """The metadata cannot be read well enough to apply the limit; the message says what is wrong."""


@dataclass(frozen=True)
class Earlier:
    """One earlier submission that was graded."""

    time: datetime
    score: float
    results: dict


def parse_time(text: object) -> datetime:
    """An ISO 8601 time with its offset, as Gradescope writes them."""
    if not isinstance(text, str):
        raise ValueError(f"not a time: {text!r}")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"a time without its offset: {text!r}")
    return moment


def read_metadata(path: Path) -> tuple[datetime, list[Earlier]]:
    """The current submission's time and the earlier graded submissions. Entries that are not graded
    results (or are unreadable) are left out; a file without the two fields the limit needs is an error."""
    try:
        metadata = json.loads(path.read_text())
        now = parse_time(metadata["created_at"])
        previous = metadata.get("previous_submissions", [])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise MetadataError(f"{path.name}: {type(error).__name__}: {error}") from None
    if not isinstance(previous, list):
        raise MetadataError(f"{path.name}: previous_submissions is not a list")
    return now, [earlier for entry in previous if (earlier := _graded(entry))]


def _graded(entry: object) -> Earlier | None:
    if not isinstance(entry, dict) or not isinstance(results := entry.get("results"), dict):
        return None
    extra = results.get("extra_data")
    if not results.get("tests") or (isinstance(extra, dict) and extra.get(MARK)):
        return None
    score = results.get("score", entry.get("score"))
    if score is None:
        return None
    try:
        return Earlier(parse_time(entry.get("submission_time")), float(score), results)
    except (TypeError, ValueError):
        return None


def next_graded_time(times: list[datetime], limit: int, window: timedelta) -> datetime:
    """When fewer than ``limit`` of ``times`` will lie in the window ending then: once the oldest ones
    that keep it full have left it."""
    ordered = sorted(times)
    return ordered[len(ordered) - limit] + window


def over_limit(now: datetime, earlier: list[Earlier], limit: int, hours: float) -> dict | None:
    """The results to record instead of grading when ``limit`` graded submissions already lie in the
    ``hours`` before ``now``; None when this submission is to be graded."""
    window = timedelta(hours=hours)
    recent = [e.time for e in earlier if now - window < e.time <= now]
    if len(recent) < limit:
        return None
    best = max(earlier, key=lambda e: (e.score, e.time))
    then = next_graded_time(recent, limit, window)
    if then.microsecond:   # shown to the second: round up, never promise a moment too early
        then = then.replace(microsecond=0) + timedelta(seconds=1)
    when = then.astimezone(now.tzinfo).strftime("%Y-%m-%d %H:%M:%S %Z")
    message = (f"Not graded: at most {limit} submissions are graded in any {hours:g} hours, and you made {len(recent)} "
               f"in the last {hours:g}. Your best score so far, {best.score:g}, is kept (from your submission of "
               f"{best.time.astimezone(now.tzinfo):%Y-%m-%d %H:%M:%S %Z}). Your next submission will be graded if "
               f"you make it at or after {when}.")
    extra = found if isinstance(found := best.results.get("extra_data"), dict) else {}
    return {**best.results, "score": best.score, "output": message,
            "extra_data": {**extra, MARK: True, "kept_from": best.time.isoformat(),
                           "next_graded_at": then.isoformat()}}
