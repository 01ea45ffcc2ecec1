"""Parameter counts of the student's models, read from the graphs the grader runs, and the student's own
counts, read from the notebook's source."""

import pytest

from autograder.artifacts import ArtifactError
from autograder.assignment import CNN, MODELS, OTHER_CNN_FILTERS
from autograder.sandbox.harness.contract import filters_key
from autograder.variants import describe, layer_table, with_filters
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


@pytest.mark.check("CNN(filters=...) sizes its layers from filters", points=4,
                   hint="Use filters[0], filters[1] and filters[2] everywhere instead of 16, 32 and 64, including the "
                        "first Linear layer; the 128 hidden units and the 10 outputs do not depend on filters.")
def test_other_filters(graded):
    """Each variant is traced and its shapes recomputed (one that cannot compute fails here), then every
    convolution and linear layer on its data's path is compared with the student's own default CNN
    changed as the notebook says ``filters`` change it, so a bug elsewhere in the CNN (say a missing
    pooling layer, or an extra normalisation) costs the other checks and not this one, while a layer
    sized from ``filters`` that the notebook fixes (the hidden width) costs this one."""
    try:
        default = layer_table(graded.graph(CNN))
    except ArtifactError as error:
        raise AssertionError(f"model_cnn: {error}") from None
    convolutions = sum(layer[0] == "conv" for layer in default)
    linears = len(default) - convolutions
    if convolutions != CNN.convolutions or not linears:
        raise AssertionError(f"model_cnn has {convolutions} convolution and {linears} linear layers; the layers "
                             f"CNN(filters=...) sizes are its {CNN.convolutions} convolutions and a linear layer")
    for filters in OTHER_CNN_FILTERS:
        what = f"CNN(filters={filters})"
        graph = graded.graph(CNN, filters_key(filters), what)
        problem = graph.path(what).problem
        assert not problem, problem
        try:
            found, expected = layer_table(graph), with_filters(default, filters)
        except ArtifactError as error:
            raise AssertionError(f"{what}: {error}") from None
        assert len(found) == len(expected), f"{what} has {len(found)} layers, your CNN() {len(expected)}"
        for index, (mine, wanted) in enumerate(zip(found, expected, strict=True), 1):
            assert mine == wanted, (f"{what}'s layer {index} is {describe(mine)}; from your CNN() and these filters "
                                    f"it should be {describe(wanted)}")


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("your answer: parameters of {model}", points=2,
                   hint="Write the count as arithmetic on numbers, layer by layer: weights (inputs x outputs, "
                        "times k x k for a convolution) plus one bias per output.")
def test_answer(graded, model):
    spec = MODELS[model]
    try:
        answer = literal_answer(graded.answer_parts(spec.answer_cell), spec.answer)
    except NotArithmetic as reason:
        raise AssertionError(f"{spec.answer} earns no points: {reason}") from None
    assert answer == spec.parameters, f"{spec.answer} = {answer:g} is not the parameter count of {spec.name}"
