"""Parameter counts of the student's models and the student's own counts."""

import pytest

from helpers.answers import NotArithmetic, literal_answer
from autograder.assignment import MODELS, OTHER_CNN_FILTERS



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
    """Whether ``filters`` is honoured, compared with the student's own default CNN (so a bug elsewhere in
    the CNN, such as a missing pooling layer, costs the other checks and not this one)."""
    default = list(graded.parameters("cnn", "model_cnn").values())
    default_convs = [t for t in default if t.dim() == 4]
    default_linears = [t for t in default if t.dim() == 2]
    assert default_convs and default_linears, "model_cnn has no convolution or no linear layer"
    for filters in OTHER_CNN_FILTERS:
        key = "cnn_" + "_".join(map(str, filters))
        built = list(graded.parameters(key, f"CNN(filters={filters})").values())
        convs, linears = [t for t in built if t.dim() == 4], [t for t in built if t.dim() == 2]
        outputs, inputs = [int(c.shape[0]) for c in convs], [int(c.shape[1]) for c in convs]
        assert outputs == list(filters), f"CNN(filters={filters})'s convolutions output {outputs} channels"
        assert inputs == [1, *filters[:-1]], f"CNN(filters={filters})'s convolutions take {inputs} channels"
        expected = int(default_linears[0].shape[1]) * filters[-1] // int(default_convs[-1].shape[0])
        found = int(linears[0].shape[1]) if linears else None
        assert found == expected, (
            f"CNN(filters={filters})'s first linear layer takes {found} inputs; with filters[2]={filters[-1]} "
            f"channels it should take {expected}")


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("your answer: parameters of {model}", points=2,
                   hint='Write the count as arithmetic on numbers, layer by layer: weights (inputs x outputs, times k x k for a convolution) plus one bias per output.')
def test_answer(graded, model):
    spec = MODELS[model]
    try:
        answer = literal_answer(graded.answer_source(spec["answer_cell"]), spec["answer"])
    except NotArithmetic as reason:
        raise AssertionError(f"{spec['answer']} earns no points: {reason}") from None
    assert answer == spec["parameters"], f"{spec['answer']} = {answer:g} is not the parameter count of {spec['name']}"
