"""Layer output shapes and the function each model computes, from the graphs the grader runs."""

import pytest
import torch

from autograder.artifacts import COST_FACTOR, ArtifactError, GraphCost
from autograder.assignment import MODELS
from autograder.context import close
from autograder.operators import call_cost
from autograder.reference import intended_forward
from autograder.sandbox.harness.contract import EXPORT_BATCH, second_key
from autograder.training import reveal

# Operators whose output shape is checked, and the layer kind they count as (pooling of any sort is
# "pool" here: whether it is the right pooling is the function check's business).
SHAPED_LAYERS = {"conv2d": "conv", "linear": "linear", "max_pool2d": "pool", "avg_pool2d": "pool"}


def _describe(shapes):
    return ", ".join(f"{op} {'x'.join(map(str, shape))}" for op, shape in shapes) or "none"


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: layer output shapes", points=4,
                   hint="Check kernel size, padding and pooling of each block against the summary table.")
def test_layer_shapes(graded, model):
    """Shapes the grader propagated itself; reported even for a graph too costly to run."""
    spec = MODELS[model]
    graph = graded.graph(spec)
    found = graph.layer_shapes(SHAPED_LAYERS)
    graded.layers[model] = [[kind, list(shape)] for kind, shape in found]
    problem = graph.path(spec.name).problem
    assert not problem, problem
    expected = list(spec.layer_shapes)
    assert found == expected, f"{spec.name} layers should output [{_describe(expected)}]; yours: [{_describe(found)}]"


def _intended_matches(graded, spec, key, batch):
    """Whether the graph under ``key`` computes the intended chain with its own layers, at ``batch``."""
    graph = graded.graph(spec, key, batch=batch)
    problem = graph.structure_problem(spec.name, spec.convolutions, spec.linears)
    assert not problem, problem
    assert not graph.dropout_left_on, (
        f"{spec.name} keeps a dropout on when it is evaluated (F.dropout(x, p) without training=self.training), "
        "so its outputs are random: the assignment asks for none")
    try:
        student = graph.module()
    except ArtifactError as error:
        raise AssertionError(f"{spec.name}: {error}") from None
    reveal(student, graded.settings.seed)
    layers, state = graph.affine_layers(), dict(student.state_dict())

    def chain(tensors, inputs):
        return intended_forward(layers, tensors, inputs)

    try:
        flops, values = call_cost(chain, state, spec.input, batch)
    except (ValueError, RuntimeError) as error:
        raise AssertionError(f"{spec.name}'s layers cannot be chained as the assignment intends "
                             f"({' '.join(str(error).split())[:150]})") from None
    limit = GraphCost(*spec.reference_cost)
    assert flops <= COST_FACTOR * limit.flops and values <= COST_FACTOR * limit.elements, (
        f"{spec.name}'s layers, chained as the assignment intends, would cost more than {COST_FACTOR}x the "
        "intended network: check the sizes of its layers")
    inputs = torch.randn(batch, *spec.input, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():   # the intended chain first, on copies: nothing the graph does reaches them
        intended = chain({name: tensor.clone() for name, tensor in state.items()}, inputs.clone())
        return close(student(inputs), intended, graded.settings.tolerance)


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: computes the intended function", points=6,
                   hint="Look for a missing or extra layer or activation, the kind of pooling, and flattening with "
                        "torch.flatten(x, 1).")
def test_function(graded, model):
    """Judged with the student's own layers (their sizes, their convolution settings) under fresh random
    weights, every parameter and statistic of the graph random (``training.reveal``): the number and kind
    of layers, the order of operations, the activations, the pooling and the flattening count, the widths
    do not. Checked on two graphs traced for different batch sizes."""
    spec = MODELS[model]
    for key, batch in ((spec.key, EXPORT_BATCH), (second_key(spec.key), graded.second_batch())):
        assert _intended_matches(graded, spec, key, batch), (
            f"{spec.name} computes something else than the intended network with its own layers "
            f"for a batch of {batch} (check activations, pooling and the flatten order)")
