"""The student's ``train_model``, judged by its effects on small probe problems drawn for this submission.

For each call (``LOOP_EPOCHS``), the sandbox returns the probe network's state at each pass over and each
batch drawn from the loaders, and the test accuracies ``train_model`` returned. Each check asks its own
question of that trace (``autograder.loop_judge``) and earns its points only from what the grader
recomputes: a loop with a bug the grader does not know loses only the checks that bug breaks.
"""

import pytest

from autograder.assignment import LOOP_CELLS
from autograder.context import CheckFailure
from autograder.loop_judge import LoopVerdicts, judge_loop
from autograder.loop_trace import Trace, TraceError, read_trace
from autograder.sandbox.harness.contract import LOOP_EPOCHS
from autograder.sandbox.harness.problems import probe_problem


def _verdicts(graded, epochs: int) -> LoopVerdicts:
    """The verdicts on ``train_model(..., epochs)``, computed once per grading."""
    key = ("loop", epochs)
    if key not in graded.memo:
        try:
            graded.memo[key] = _raised_after_passes(graded, epochs) or _judged(graded, epochs)
        except CheckFailure as failure:
            graded.memo[key] = failure
    found = graded.memo[key]
    if isinstance(found, CheckFailure):
        raise found
    return found


def _judged(graded, epochs: int) -> LoopVerdicts:
    what = f"train_model(..., epochs={epochs}) failed"
    run = graded.section("loop", f"loop {epochs}", what, LOOP_CELLS).get(str(epochs))
    if run is None:
        raise CheckFailure(f"{what}: the sandbox reported no record of it")
    return judge_loop(probe_problem(graded.seed, epochs), _trace(graded, epochs), run.get("test_acc"),
                      graded.settings.tolerance)


def _raised_after_passes(graded, epochs: int) -> LoopVerdicts | None:
    """The verdicts on a call that raised once its trace was sent (an error in a print or the evaluation
    after correct training steps costs the checks those steps do not pass, not all six); None where the
    call did not raise, or left no trace to judge."""
    error = graded.phase_error(f"loop {epochs}")
    if not error or "phases" in graded.report.problems or f"loop {epochs}" not in graded.report.get("phases", {}):
        return None
    try:
        trace = _trace(graded, epochs)
    except CheckFailure:
        return None
    verdicts = judge_loop(probe_problem(graded.seed, epochs), trace, None, graded.settings.tolerance)
    return verdicts.after_error(error.strip().splitlines()[-1][:300] if error.strip() else "an error")


def _trace(graded, epochs: int) -> Trace:
    try:
        return read_trace(graded.loop_trace(epochs))
    except TraceError as error:
        raise CheckFailure(f"train_model(..., epochs={epochs}): {error}") from None


def _require(graded, question: str) -> None:
    """Fail with the first call's reason for ``question``, if any call has one."""
    for epochs in LOOP_EPOCHS:
        reason = getattr(_verdicts(graded, epochs), question)
        if reason is not None:
            raise AssertionError(reason)


@pytest.mark.check("train_model: weights match a correct loop from the same start", points=6,
                   hint="Use the crit and opt passed in: one forward pass, loss, backward pass and step per batch, "
                        "and reset the gradients.")
def test_weights_match_reference(graded):
    """Each epoch is replayed from the weights it started from, over the batches it drew, so ignoring
    ``epochs`` or a stray ``break`` costs only the epochs check."""
    _require(graded, "weights")


@pytest.mark.check("train_model: one optimizer step per batch, after the backward pass", points=5,
                   hint="Steps 6 to 9 happen once per batch, in that order: forward, loss, backward, step.")
def test_steps_per_batch(graded):
    _require(graded, "steps")


@pytest.mark.check("train_model: resets the gradients every batch", points=4,
                   hint="Step 10: clear the gradients once per batch (opt.zero_grad(), model.zero_grad(), ...), "
                        "otherwise they accumulate.")
def test_gradient_reset(graded):
    _require(graded, "reset")


@pytest.mark.check("train_model: trains for the given number of epochs", points=4,
                   hint="Loop over range(epochs), each time over all of dl_tr, and return one test accuracy per epoch.")
def test_honours_epochs(graded):
    _require(graded, "epochs")


@pytest.mark.check("train_model: evaluates in eval mode", points=3,
                   hint="Call model.eval() before measuring the test accuracy (and model.train() before training).")
def test_evaluation_mode(graded):
    _require(graded, "mode")


@pytest.mark.check("train_model: returns the test accuracy after each epoch, over the whole test set", points=3,
                   hint='history["test_acc"] holds one fraction in [0, 1] per epoch: correct predictions over all '
                        "test samples.")
def test_returned_accuracies(graded):
    _require(graded, "returned")
