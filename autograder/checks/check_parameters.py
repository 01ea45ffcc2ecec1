"""Parameter counts of the student's models, read from the graphs the grader runs, and the student's own
counts, read from the notebook's source."""

import pytest

from autograder.assignment import CNN, MODELS, OTHER_CNN_FILTERS
from autograder.sandbox.harness.contract import filters_key
from helpers.answers import NotArithmetic, literal_answer


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model} has the right number of parameters", points=4,
                   hint="Compare your layers with the table in the notebook: in and out sizes of every nn.Linear and "
                        "nn.Conv2d.")
def test_parameter_count(graded, model):
    spec = MODELS[model]
    graph = graded.graph(spec)
    problem = graph.structure_problem(spec.name, spec.convolutions, spec.linears)
    assert not problem, problem
    found = graph.parameter_count(spec.name)
    assert found == spec.parameters, f"{spec.name} should have {spec.parameters} parameters, yours has {found}"


def _weight_shapes(graph, kind):
    return [tuple(graph.program.state_dict[layer["weight"]].shape) for layer in graph.affine_layers()
            if layer["kind"] == kind]


@pytest.mark.check("CNN(filters=...) sizes its layers from filters", points=4,
                   hint="Use filters[0], filters[1] and filters[2] everywhere instead of 16, 32 and 64, including the "
                        "first Linear layer.")
def test_other_filters(graded):
    """Each variant is traced and its shapes recomputed (one that cannot compute fails here), then compared
    with the student's own default CNN, so a bug elsewhere in the CNN (say a missing pooling layer) costs
    the other checks and not this one."""
    default = graded.graph(CNN)
    default_convs, default_linears = _weight_shapes(default, "conv"), _weight_shapes(default, "linear")
    assert default_convs and default_linears, "model_cnn has no convolution or no linear layer"
    for filters in OTHER_CNN_FILTERS:
        what = f"CNN(filters={filters})"
        graph = graded.graph(CNN, filters_key(filters), what)
        problem = graph.structure_problem(what, CNN.convolutions, CNN.linears)
        assert not problem, problem
        convs, linears = _weight_shapes(graph, "conv"), _weight_shapes(graph, "linear")
        outputs, inputs = [shape[0] for shape in convs], [shape[1] for shape in convs]
        assert outputs == list(filters), f"{what}'s convolutions output {outputs} channels"
        assert inputs == [1, *filters[:-1]], f"{what}'s convolutions take {inputs} channels"
        expected = default_linears[0][1] * filters[-1] // default_convs[-1][0]
        found = linears[0][1]
        assert found == expected, (f"{what}'s first linear layer takes {found} inputs; with filters[2]={filters[-1]} "
                                   f"channels it should take {expected}")


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("your answer: parameters of {model}", points=2,
                   hint="Write the count as arithmetic on numbers, layer by layer: weights (inputs x outputs, "
                        "times k x k for a convolution) plus one bias per output.")
def test_answer(graded, model):
    spec = MODELS[model]
    try:
        answer = literal_answer(graded.answer_source(spec.answer_cell), spec.answer)
    except NotArithmetic as reason:
        raise AssertionError(f"{spec.answer} earns no points: {reason}") from None
    assert answer == spec.parameters, f"{spec.answer} = {answer:g} is not the parameter count of {spec.name}"
