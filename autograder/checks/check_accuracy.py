"""Test accuracy of each model after the grader trains it with a fixed seed and budget."""

import pytest

from autograder.assignment import MODELS


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: test accuracy after the grader's training", points=6,
                   hint="A model that trains in the notebook passes easily: check that the loss goes down there.")
def test_accuracy(graded, model, record_property):
    """Only the assignment's architecture is trained (the widths are free): a network of another shape,
    say a single linear layer, may learn MNIST too, but it is not the model asked for."""
    spec, budget = MODELS[model], graded.settings.accuracy
    accuracy = graded.accuracy(model)
    threshold = budget.thresholds[model]
    record_property("measured", f"{accuracy:.3f} {'≥' if accuracy >= threshold else '<'} {threshold:.2f}")
    assert accuracy >= threshold, (
        f"{spec.name} reached {accuracy:.3f} test accuracy after {budget.iterations[model]} training steps; "
        f"at least {threshold:.2f} is expected")
