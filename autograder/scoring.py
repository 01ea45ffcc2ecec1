"""Scoring a finished sandbox run: the hidden pytest checks over its artifacts, in this process."""

from __future__ import annotations

import contextlib
import io
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch

from . import tamper
from .accuracy_memo import AccuracyMemo
from .assignment import MODELS
from .bounds import CheckBudget, memory_bound, refused_memory, retire
from .context import GradingContext, MnistTensors
from .head_start import HeadStart
from .paths import CHECKS
from .results import CheckResult, Verdict
from .sandbox.process import Ending, SandboxRun
from .settings import Settings
from .shortage import unconfirmed_note
from .stages import stage_seconds
from .submission import Answers, answer_ids
from .training import TRAINING_THREADS

CHECKS_DIR = CHECKS
# The order in which results are reported: cheap facts first, training last.
CHECK_FILES = ["check_parameters.py", "check_architecture.py", "check_setup.py", "check_training_loop.py",
               "check_accuracy.py"]
MODEL_NAMES = {key: spec.name for key, spec in MODELS.items()}
MAX_NOTES, NOTE_CHARS = 30, 300     # what a verdict says besides its checks, bounded after formatting
THREADS_START_SECONDS = 60          # for the training threads to start, at most


class _CheckCollector:
    """pytest plugin: hands the context to the checks and turns each outcome into a CheckResult. A check
    that measures a value against a bound shows it with ``record_property("measured", "0.913 ≥ 0.85")``."""

    def __init__(self, context: GradingContext) -> None:
        self.context = context
        self.results: list[CheckResult] = []

    @pytest.fixture
    def graded(self) -> GradingContext:
        return self.context

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "check(title, points): a graded check and its points")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Function) -> None:
        self.context.budget.require_time()   # raised here, it is this check's failure and reason

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Function, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        if not (report.when == "call" or (report.when == "setup" and report.failed)):
            return
        marker = item.get_closest_marker("check")
        assert marker is not None, f"{item.nodeid} has no check marker"
        params = getattr(getattr(item, "callspec", None), "params", {})
        title = marker.args[0].format(model=MODEL_NAMES.get(params.get("model", ""), ""))
        points = marker.kwargs["points"]
        reason = "" if report.passed else _reason(call.excinfo)
        group = item.module.__name__.rsplit(".", 1)[-1].removeprefix("check_").replace("_", " ")
        hint = marker.kwargs.get("hint", "")
        measured = excerpt(dict(report.user_properties).get("measured", ""), 100)  # record_property("measured", ...)
        self.results.append(CheckResult(title, group, points if report.passed else 0, points, reason, hint, measured))


def excerpt(text: str, limit: int) -> str:
    """One line of printable text, at most ``limit`` characters: how any text that may come from the
    sandbox reaches a verdict."""
    printable = "".join(c if c.isprintable() else " " for c in str(text))
    return " ".join(printable.split())[:limit]


def _reason(excinfo) -> str:
    if excinfo is None:
        return "the check did not run"
    error = excinfo.value
    if refused_memory(error):
        return "could not be checked: it needed more memory than the grader gives one submission's checks"
    text = (str(error) if isinstance(error, AssertionError)
            else f"could not be checked ({type(error).__name__}: {error})")
    return excerpt(text, 400)


def run_checks(context: GradingContext) -> list[CheckResult]:
    """The checks, in this thread; the accuracy trainings run on ``context.trainer`` once the first
    accuracy check asks (``GradingContext.accuracy``). A failure's reason comes from its exception
    (``_CheckCollector``), so pytest formats no traceback (``--tb=no``): formatting one parses source,
    which a check that failed at the grader's memory bound must not need memory for. Nor does it look for
    unraisable exceptions (``-p no:unraisableexception``): that plugin's two full garbage collections at
    the end cost 0.4 s over the grader's heap (PyTorch, MNIST); a batch worker collects once after each
    grading instead (``bounds.release_freed_memory``)."""
    collector = _CheckCollector(context)
    args = [*(str(CHECKS_DIR / name) for name in CHECK_FILES), "-q", "-p", "no:cacheprovider",
            "-p", "no:unraisableexception", "--assert=plain", "--tb=no", "-o", "python_files=check_*.py",
            "-o", "addopts=", "-W", "ignore"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(args, plugins=[collector])
    return collector.results


@dataclass
class Checking:
    """What one submission's artifacts are loaded and checked under (``checking``)."""

    trainer: ThreadPoolExecutor    # the accuracy trainings' threads
    before: tamper.Snapshot        # the grader's code before any of it


@contextlib.contextmanager
def checking(settings: Settings) -> Iterator[Checking]:
    """The accuracy trainings' threads, the grader's memory bound and the tripwire's first look
    (``tamper``), for everything the grader does with one submission's artifacts: from the first graph
    it loads while the sandbox still runs (``head_start``) to the last check."""
    with trainer() as pool, memory_bound(settings.grader_memory_bytes):
        yield Checking(pool, tamper.snapshot())


@contextlib.contextmanager
def trainer() -> Iterator[ThreadPoolExecutor]:
    """The threads of the accuracy trainings, and one PyTorch thread for every computation while the
    checks run, so that no figure depends on how many cores the machine has (the order of a sum changes
    with the threads that share it). The threads start, and PyTorch's state in each is made, before the
    grader's memory bound is set, as its own are (``bounds``): a thread the bound refused would leave a
    training no one runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(TRAINING_THREADS, thread_name_prefix="training") as pool:
            ready = threading.Barrier(TRAINING_THREADS + 1, timeout=THREADS_START_SECONDS)
            try:
                for _ in range(TRAINING_THREADS):
                    pool.submit(_start_thread, ready)
                ready.wait()
            except BaseException:
                ready.abort()   # a thread that could not start must not leave the others waiting for ever
                raise
            yield pool
    finally:
        torch.set_num_threads(threads)


def _start_thread(ready: threading.Barrier) -> None:
    weights = torch.rand(64, 64, requires_grad=True)
    (weights @ weights).relu().sum().backward()
    ready.wait()   # every thread holds a task until all are started: none is left to start later


def _notes(context: GradingContext) -> list[str]:
    run, notes = context.run, []
    if run.ended not in (Ending.FINISHED, Ending.NOT_RUN):
        phases = list(context.report.get("phases", {}))
        where = f"in the step after '{excerpt(phases[-1], 60)}'" if phases else "in its first cell"
        notes.append(f"the submission's code {run.ended.value} {where} ({run.seconds:.0f} s in{_how(run)}): the checks "
                     "that need that step or a later one score 0")
        if run.ended == Ending.CRASHED and run.stderr_tail.strip():
            notes.append("its last words: " + excerpt(" | ".join(run.stderr_tail.strip().splitlines()[-3:]), 300))
    if run.memory_seen:
        notes.append(f"the memory limit was reached: {run.memory_seen}")
    if run.channel_problem:
        notes.append(f"the grader stopped reading the sandbox's output: {run.channel_problem}")
    if shortage := unconfirmed_note(run, context.settings.limits.processes):
        notes.append(shortage)
    notes += sorted(set(context.report.problems.values()))
    for grade_id, count in context.answer_sources.repeated(answer_ids()).items():
        notes.append(f"{count} cells of the notebook carry the id of the answer cell {excerpt(grade_id, 60)} (a cell "
                     "split in two, or copied): they ran one after the other, in the notebook's order")
    for name, phase in context.report.get("phases", {}).items():
        if phase.get("error") and name.startswith("cell "):
            last_line = phase["error"].splitlines()[-1] if phase["error"] else ""
            notes.append(f"{excerpt(name, 60)}: {excerpt(last_line, 200)}")
        if phase.get("output_dropped"):
            notes.append(f"{excerpt(name, 60)}: {phase['output_dropped']} characters of printed output were dropped")
    return notes


def _how(run: SandboxRun) -> str:
    """", exit status N" or ", killed by SIGNAME" for a crash: what a crash says about its cause. bubblewrap,
    like a shell, reports a child killed by signal N as exit status 128 + N."""
    code = run.returncode
    if run.ended != Ending.CRASHED or code is None:
        return ""
    number = -code if code < 0 else code - 128 if run.isolation.get("mode") == "bubblewrap" and code > 128 else 0
    with contextlib.suppress(ValueError):
        return f", killed by {signal.Signals(number).name}" if number else f", exit status {code}"
    return f", exit status {code}"


def score(path: Path, run: SandboxRun | None, unreadable: str, answers: Answers, settings: Settings,
          mnist: MnistTensors, started: float, seed: int, accuracy_memo: AccuracyMemo, bounds: Checking,
          head: HeadStart | None = None) -> Verdict:
    """Run every check on ``run`` (``None`` with ``unreadable`` set when the file could not be read),
    within ``bounds``; ``accuracy_memo`` holds the accuracies this process measured for earlier
    submissions, ``head`` the graphs the grader loaded while the sandbox ran."""
    if run is None:
        run = SandboxRun(Path(tempfile.mkdtemp(prefix="grade-empty-")), None, Ending.NOT_RUN, 0.0)
    try:
        context = GradingContext(run, settings, mnist, seed, CheckBudget(settings.grader_cpu_seconds),
                                 unreadable=unreadable, answer_sources=answers, trainer=bounds.trainer,
                                 accuracy_memo=accuracy_memo, head=head)
        notes = [excerpt(note, NOTE_CHARS) for note in ([unreadable] if unreadable else _notes(context))]
        checking_started = time.monotonic()
        checks = run_checks(context)
        altered = tamper.changes(bounds.before)
        checked = time.monotonic() - checking_started
    finally:
        shutil.rmtree(run.folder, ignore_errors=True)
    if altered:
        retire("changed the grader's own code")
        context.accuracies.clear()
        context.reused.clear()
        void = (f"not counted: the grader's own code changed while this submission's artifacts were checked "
                f"({', '.join(altered[:3])}{', ...' if len(altered) > 3 else ''})")
        checks = [replace(check, score=0, reason=excerpt(void, NOTE_CHARS), measured="") for check in checks]
        notes.insert(0, excerpt(void, NOTE_CHARS))
    notes = notes[:MAX_NOTES]
    phases = context.report.get("phases", {}) if run.ended != Ending.NOT_RUN else {}
    details = {"accuracies": dict(context.accuracies), "trainings_reused": sorted(context.reused),
               "layers": dict(context.layers),
               "stages": stage_seconds(run, phases, checked, context.training_seconds)}
    return Verdict(str(path), checks, time.monotonic() - started, notes, details)
