"""The student's ``train_model``, judged by its effect on small probe problems drawn for this submission.

For each call (``LOOP_EPOCHS``), the sandbox returns the probe network's final weights and the test
accuracies ``train_model`` returned. The grader replays the loop itself, correctly and with each common
single bug (``autograder.probes``), and finds the one that produced exactly those weights and
accuracies. Each check asks one question of that explanation; a loop that no known loop explains earns
none of these points, whatever else it did.
"""

import pytest

from autograder.assignment import LOOP_CELLS
from autograder.context import CheckFailure
from autograder.probes import Evaluation, LoopEffect, Training, explain_loop
from autograder.sandbox.harness.contract import LOOP_EPOCHS
from autograder.sandbox.harness.problems import probe_problem


def _effect(graded, epochs: int) -> LoopEffect:
    """The explanation of ``train_model(..., epochs)``, computed once per grading."""
    key = ("loop", epochs)
    if key not in graded.memo:
        try:
            what = f"train_model(..., epochs={epochs}) failed"
            run = graded.section("loop", f"loop {epochs}", what, LOOP_CELLS).get(str(epochs))
            if run is None:
                raise CheckFailure(f"{what}: the sandbox reported no record of it")
            weights = graded.loop_weights(epochs)
            effect = explain_loop(probe_problem(graded.seed, epochs), weights, run.get("test_acc"),
                                  graded.settings.tolerance)
            if effect is None:
                raise CheckFailure(
                    f"after train_model(..., epochs={epochs}) on a small probe problem, the weights match neither "
                    "a correct loop nor any common single bug (one forward pass, loss, backward pass and "
                    "optimizer step per batch, with the gradients reset, using the crit and opt passed in)")
            graded.memo[key] = effect
        except CheckFailure as failure:
            graded.memo[key] = failure
    found = graded.memo[key]
    if isinstance(found, CheckFailure):
        raise found
    return found


def _effects(graded) -> list[tuple[int, LoopEffect]]:
    return [(epochs, _effect(graded, epochs)) for epochs in LOOP_EPOCHS]


FIXES = {Training.EVAL_AFTER_FIRST: ": call model.train() at the start of every epoch, since evaluating "
                                   "switches the model to eval mode"}
STEP_REASON = ("the weights never changed: opt.step() is missing, runs before loss.backward(), or the gradients "
               "are cleared between loss.backward() and opt.step()")


@pytest.mark.check("train_model: weights match a correct loop from the same start", points=6,
                   hint="Use the crit and opt passed in: one forward pass, loss, backward pass and step per batch, "
                        "and reset the gradients.")
def test_weights_match_reference(graded):
    """Compared after as many epochs as the loop really trained, so ignoring ``epochs`` costs only the
    epochs check."""
    for epochs, effect in _effects(graded):
        if effect.training is Training.NO_UPDATE:
            raise AssertionError(STEP_REASON)
        assert effect.training is Training.CORRECT, (
            f"with epochs={epochs}, the weights are those of a loop: {effect.training.value}"
            + FIXES.get(effect.training, ""))


@pytest.mark.check("train_model: one optimizer step per batch, after the backward pass", points=5,
                   hint="Steps 6 to 9 happen once per batch, in that order: forward, loss, backward, step.")
def test_steps_per_batch(graded):
    for _, effect in _effects(graded):
        assert effect.training is not Training.NO_UPDATE, STEP_REASON
        assert effect.training is not Training.TWICE, (
            f"the weights are those of a loop that {effect.training.value}: one of each per batch")


@pytest.mark.check("train_model: resets the gradients every batch", points=4,
                   hint="Step 10: clear the gradients once per batch (opt.zero_grad(), model.zero_grad(), ...), "
                        "otherwise they accumulate.")
def test_gradient_reset(graded):
    for _, effect in _effects(graded):
        assert effect.training is not Training.NO_UPDATE, (
            "whether the gradients are reset cannot be seen: the weights never changed")
        assert effect.training not in (Training.NO_RESET, Training.RESET_PER_EPOCH), (
            f"the weights are those of a loop whose {effect.training.value}: they accumulated from batch to "
            "batch; clear them once per batch (before backward or after step)")


@pytest.mark.check("train_model: trains for the given number of epochs", points=4,
                   hint="Loop over range(epochs) and return one test accuracy per epoch.")
def test_honours_epochs(graded):
    for epochs, effect in _effects(graded):
        if effect.training is Training.NO_UPDATE:  # then only the measured accuracies tell the epochs
            assert effect.evaluation is not None and effect.returned == epochs, (
                f"train_model(..., epochs={epochs}) returned {effect.returned} test accuracies for an unchanged "
                "model; the number of epochs cannot be seen otherwise")
            continue
        assert effect.epochs_trained == epochs, (
            f"train_model(..., epochs={epochs}) trained {effect.epochs_trained} epoch(s) over the training batches")


@pytest.mark.check("train_model: evaluates in eval mode", points=3,
                   hint="Call model.eval() before measuring the test accuracy (and model.train() before training).")
def test_evaluation_mode(graded):
    for epochs, effect in _effects(graded):
        assert effect.evaluation is not None, _unexplained_accuracies(epochs)
        assert effect.evaluation is not Evaluation.TRAIN_MODE, (
            "the returned test accuracies were measured in training mode: call model.eval() before evaluating")


@pytest.mark.check("train_model: returns the test accuracy after each epoch, over the whole test set", points=3,
                   hint='history["test_acc"] holds one fraction in [0, 1] per epoch: correct predictions over all '
                        "test samples.")
def test_returned_accuracies(graded):
    for epochs, effect in _effects(graded):
        assert effect.evaluation is not None, _unexplained_accuracies(epochs)
        assert effect.evaluation in (Evaluation.CORRECT, Evaluation.TRAIN_MODE), (
            f"the test accuracies returned for epochs={epochs} were {effect.evaluation.value}: return the fraction "
            "of all test samples predicted correctly, after each epoch")


def _unexplained_accuracies(epochs: int) -> str:
    return (f"the test accuracies train_model(..., epochs={epochs}) returned are not those of its model after each "
            "epoch: measure them over the whole test loader, in eval mode, as a fraction in [0, 1]")
