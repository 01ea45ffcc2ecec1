"""When the grader itself fails: one exception type for the failures it expects (no sandbox, no data,
a sandbox that cannot start), and one way every front end reports any other exception, with its
traceback kept where the person running the grader will find it. A leaf module: every layer may use it."""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

LOG_NAME = "autograder-errors.log"


class GraderError(RuntimeError):
    """The grader cannot grade (not the submission's fault); the message says why and what to do."""


def expected(error: BaseException) -> bool:
    """A failure whose message says all (no sandbox, no data, a full disk): no traceback is needed."""
    return isinstance(error, (GraderError, OSError)) or getattr(error, "grader_fault", False) is True


def one_line(error: BaseException) -> str:
    """The error as one line: its type when it is not one of ours, its first line of text."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if expected(error):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def keep_traceback(error: BaseException, folder: Path | None = None) -> Path:
    """Append ``error``'s traceback to ``folder/LOG_NAME`` (the system's temporary folder when ``folder``
    is missing or cannot be written) and return the file."""
    record = (f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
              + "".join(traceback.format_exception(type(error), error, error.__traceback__)))
    for place in ([folder] if folder else []) + [Path(tempfile.gettempdir())]:
        try:
            with open(place / LOG_NAME, "a") as log:
                log.write(record)
            return place / LOG_NAME
        except OSError:
            continue
    return Path(tempfile.gettempdir()) / LOG_NAME


def report(error: BaseException, folder: Path | None = None) -> str:
    """What a front end says when the grader failed: the reason, and for an unexpected error where its
    traceback was kept."""
    if expected(error):
        return f"cannot grade: {one_line(error)}"
    return f"the grader failed ({one_line(error)}); the traceback is in {keep_traceback(error, folder)}"
