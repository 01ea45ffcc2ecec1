"""Each step of the harness under a time budget, with the student's printed output captured and
bounded, its error (if any) recorded, and the report sent after it so that what is known survives a
later crash."""

from __future__ import annotations

import io
import signal
import sys
import time
import traceback
from types import FrameType, TracebackType

from .contract import ERROR_KEPT, OUTPUT_KEPT
from .wire import send_report

_STDOUT, _STDERR = sys.stdout, sys.stderr


class PhaseTimeout(BaseException):
    """Raised by SIGALRM when a phase runs past its budget (a BaseException, so `except Exception` in
    student code does not swallow it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise PhaseTimeout()


class CappedStream(io.TextIOBase):
    """Keeps the first ``limit`` characters written and counts the rest, so printing cannot flood."""

    def __init__(self, limit: int) -> None:
        self.limit, self.dropped, self.size = limit, 0, 0
        self.kept: list[str] = []

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if room > 0:
            self.kept.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        return "".join(self.kept)


def describe(kind: type[BaseException], error: BaseException, seconds: float, modules: list[str]) -> str:
    """One line saying what stopped a phase."""
    if kind is PhaseTimeout:
        return f"timed out after {seconds:g} s"
    if issubclass(kind, ModuleNotFoundError):
        return (f"ModuleNotFoundError: the module '{getattr(error, 'name', '?')}' is not available when grading; "
                f"available: the standard library, {', '.join(modules)}")
    text = "".join(traceback.format_exception_only(kind, error)).strip()
    if "CUDA" in text or "NVIDIA" in text:
        text += " (grading runs without a GPU: put models and tensors on the notebook's `device`, not on 'cuda')"
    return text


class Phase:
    """``with Phase(...):`` runs a block under a time budget; errors, ``sys.exit()`` and timeouts end the
    phase, not the grading."""

    def __init__(self, report: dict, name: str, seconds: float, output_limit: int, modules: list[str]) -> None:
        self.report, self.name, self.seconds, self.output_limit = report, name, seconds, output_limit
        self.modules = modules

    def __enter__(self) -> Phase:
        self.stream = CappedStream(self.output_limit)
        sys.stdout = sys.stderr = self.stream
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.started = time.monotonic()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> bool:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = _STDOUT, _STDERR
        entry: dict = {"output": self.stream.text()[-OUTPUT_KEPT:], "output_dropped": self.stream.dropped,
                       "seconds": round(time.monotonic() - self.started, 3)}
        if kind is not None and error is not None:
            entry["error"] = describe(kind, error, self.seconds, self.modules)[-ERROR_KEPT:]
        self.report.setdefault("phases", {})[self.name] = entry
        send_report(self.report)
        return True
