"""Parameter counts of the student's models and the student's own counts."""

import pytest

from autograder.assignment import MODELS, OTHER_CNN_FILTERS
from autograder.reference import ReferenceCNN, parameter_count



@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model} has the right number of parameters", points=4,
                   hint='Compare your layers with the table in the notebook: in and out sizes of every nn.Linear and nn.Conv2d.')
def test_parameter_count(graded, model):
    spec = MODELS[model]
    found = sum(t.numel() for t in graded.parameters(model, spec["variable"]).values())
    expected = spec["parameters"]
    assert found == expected, f"{spec['name']} should have {expected} parameters, yours has {found}"


@pytest.mark.check("CNN(filters=...) sizes its layers from filters", points=4,
                   hint='Use filters[0], filters[1] and filters[2] everywhere instead of 16, 32 and 64, including the first Linear layer.')
def test_other_filters(graded):
    for filters in OTHER_CNN_FILTERS:
        key = "cnn_" + "_".join(map(str, filters))
        found = sum(t.numel() for t in graded.parameters(key, f"CNN(filters={filters})").values())
        expected = parameter_count(ReferenceCNN(filters))
        assert found == expected, f"CNN(filters={filters}) should have {expected} parameters, yours has {found}"


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("your answer: parameters of {model}", points=2,
                   hint='Each layer has weights (inputs x outputs, times k x k for a convolution) plus one bias per output.')
def test_answer(graded, model):
    spec = MODELS[model]
    answer = graded.answers.get(spec["answer"])
    assert isinstance(answer, int), f"{spec['answer']} should be a whole number, found {answer if answer is not None else 'nothing'}"
    assert answer == spec["parameters"], f"{spec['answer']} = {answer} is not the parameter count of {spec['name']}"
