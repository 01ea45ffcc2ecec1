"""Test accuracy of each model after the grader trains it with a fixed seed and budget."""

import pytest
import torch

from autograder.artifacts import ArtifactError
from autograder.assignment import MODELS
from autograder.training import train_and_test


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: test accuracy after the grader's training", points=6,
                   hint="A model that trains in the notebook passes easily: check that the loss goes down there.")
def test_accuracy(graded, model, record_property):
    """Only the assignment's architecture is trained (the widths are free): a network of another shape,
    say a single linear layer, may learn MNIST too, but it is not the model asked for."""
    spec, budget = MODELS[model], graded.settings.accuracy
    graph = graded.graph(spec)
    problem = graph.structure_problem(spec.name, spec.convolutions, spec.linears)
    assert not problem, f"{problem}, so its accuracy is not measured"
    try:
        module = graph.module()
    except ArtifactError as error:
        raise AssertionError(f"{spec.name}: {error}") from None
    device = torch.device("cpu")  # on every host: a GPU's arithmetic would change accuracies near a threshold
    try:
        accuracy = train_and_test(module, graded.mnist.train, graded.mnist.test, spec.input, budget.iterations[model],
                                  budget.test_images, budget.batch_size, budget.lr, graded.settings.seed, device,
                                  min(budget.cpu_seconds, graded.budget.left()))
    except Exception as error:  # noqa: BLE001 - a graph that cannot be trained earns no accuracy points
        raise AssertionError(f"{spec.name} could not be trained ({type(error).__name__}: {error})"[:300]) from None
    graded.accuracies[model] = accuracy
    threshold = budget.thresholds[model]
    record_property("measured", f"{accuracy:.3f} {'≥' if accuracy >= threshold else '<'} {threshold:.2f}")
    assert accuracy >= threshold, (
        f"{spec.name} reached {accuracy:.3f} test accuracy after {budget.iterations[model]} training steps; "
        f"at least {threshold:.2f} is expected")
