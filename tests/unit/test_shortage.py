"""Whose fault a refused process or thread is: decided by the grader's own count of the sandbox's tasks and
of the machine's, never by what the sandbox says; a run that failed for want of tasks below its allowance
is graded again, and a second such failure is a grader error only where the grader saw the shortage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import engine
from autograder.failures import GraderError, expected
from autograder.sandbox.cgroups import task_refusals
from autograder.sandbox.process import Ending, SandboxRun, task_headroom
from autograder.shortage import failed_for_want_of_tasks, machine_short, unconfirmed_note

ALLOWANCE = 64
TORCH_EAGAIN = "RuntimeError: Resource temporarily unavailable"
PYTHON_EAGAIN = "RuntimeError: can't start new thread"


def _run(folder: Path, errors: dict[str, str], most_tasks: int, ended: Ending = Ending.FINISHED,
         stderr: str = "", scarce: bool = False) -> SandboxRun:
    folder.mkdir(parents=True, exist_ok=True)
    phases = {name: {"seconds": 1.0, "output": "", "output_dropped": 0, **({"error": error} if error else {})}
              for name, error in errors.items()}
    (folder / "report.json").write_text(json.dumps({"phases": phases}))
    return SandboxRun(folder, 0, ended, 5.0, stderr, most_tasks=most_tasks, tasks_scarce=scarce)


@pytest.mark.parametrize("error", [TORCH_EAGAIN, PYTHON_EAGAIN,
                                   "BlockingIOError: [Errno 11] Resource temporarily unavailable"])
def test_refused_below_its_allowance_is_the_machines_fault(tmp_path, error):
    run = _run(tmp_path, {"cell setup": "", "train_model probe": error}, most_tasks=9)
    assert failed_for_want_of_tasks(run)
    assert machine_short(run, ALLOWANCE)


def test_refused_at_its_allowance_is_the_submissions_fault(tmp_path):
    run = _run(tmp_path, {"train_model probe": TORCH_EAGAIN}, most_tasks=ALLOWANCE)
    assert failed_for_want_of_tasks(run) and not machine_short(run, ALLOWANCE)


def test_other_errors_and_clean_runs_are_not_shortages(tmp_path):
    assert not machine_short(_run(tmp_path / "a", {"cell x": "ValueError: bad shape"}, 3), ALLOWANCE)
    assert not machine_short(_run(tmp_path / "b", {"cell x": ""}, 3), ALLOWANCE)
    # words in printed output are no error: only a step that failed counts
    printed = _run(tmp_path / "c", {}, 3)
    (printed.folder / "report.json").write_text(json.dumps(
        {"phases": {"cell x": {"seconds": 1.0, "output": "Resource temporarily unavailable", "output_dropped": 0}}}))
    assert not machine_short(printed, ALLOWANCE)


def test_a_crash_counts_by_its_last_words(tmp_path):
    words = "terminate called after throwing an instance of 'std::system_error'\n  what():  Resource temporarily unavailable"
    assert machine_short(_run(tmp_path / "a", {}, 4, Ending.CRASHED, words), ALLOWANCE)
    assert not machine_short(_run(tmp_path / "b", {}, 4, Ending.FINISHED, words), ALLOWANCE)


class _Again:
    """Stands in for running the job again in a fresh sandbox: gives the next prepared run."""

    def __init__(self, runs: list[SandboxRun]) -> None:
        self.runs, self.started = runs, 0

    def __call__(self) -> SandboxRun:
        self.started += 1
        return self.runs.pop(0)


def test_a_starved_run_is_graded_again(tmp_path):
    first = _run(tmp_path / "first", {"train_model probe": TORCH_EAGAIN}, 8)
    second = _run(tmp_path / "second", {"train_model probe": ""}, 8)
    again = _Again([second])
    assert engine._unless_machine_short(first, ALLOWANCE, again) is second
    assert again.started == 1 and not first.folder.exists()


@pytest.mark.parametrize("seen_in", ["first", "second"])
def test_starved_twice_where_the_grader_saw_it_is_a_grader_error_not_lost_points(tmp_path, seen_in):
    first = _run(tmp_path / "first", {"train_model probe": TORCH_EAGAIN}, 8, scarce=seen_in == "first")
    again = _Again([_run(tmp_path / "second", {"cell train": PYTHON_EAGAIN}, 11, scarce=seen_in == "second")])
    with pytest.raises(GraderError, match="at most 11 of its 64") as raised:
        engine._unless_machine_short(first, ALLOWANCE, again)
    assert expected(raised.value)


def test_a_claimed_shortage_the_grader_never_saw_keeps_its_verdict(tmp_path):
    """A notebook that raises the words of EAGAIN itself, twice, gets its verdict (with a note), never a
    grader error it could hide a low score behind."""
    first = _run(tmp_path / "first", {"cell train": "OSError: [Errno 11] Resource temporarily unavailable"}, 3)
    second = _run(tmp_path / "second", {"cell train": "OSError: [Errno 11] Resource temporarily unavailable"}, 3)
    assert engine._unless_machine_short(first, ALLOWANCE, _Again([second])) is second
    note = unconfirmed_note(second, ALLOWANCE)
    assert note and "did not see the machine short" in note and "at most 3 of its 64" in note
    assert unconfirmed_note(_run(tmp_path / "clean", {"cell train": ""}, 3), ALLOWANCE) is None


def test_the_machines_room_for_tasks_is_read_from_the_kernel():
    """This machine is not short: the room it reports is real and far above a sandbox's allowance, and
    starting threads takes from it."""
    import threading

    before = task_headroom(uid_tasks=True)
    assert before > ALLOWANCE
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(200)]
    for thread in threads:
        thread.start()
    try:
        assert task_headroom(uid_tasks=True) <= before - 100   # other work on the machine may start or end meanwhile
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    refusals = task_refusals()
    assert refusals is None or refusals >= 0


def test_a_sandbox_that_used_its_allowance_is_not_graded_again(tmp_path):
    run = _run(tmp_path, {"train_model probe": PYTHON_EAGAIN}, ALLOWANCE + 1)
    again = _Again([])
    assert engine._unless_machine_short(run, ALLOWANCE, again) is run
    assert again.started == 0
