"""Layer output shapes and, with the reference weights copied in, the function each model computes."""

import pytest
import torch

from autograder.context import close
from autograder.assignment import LAYER_SHAPES, MODELS
from autograder.reference import REFERENCES



# Operators whose output shape is checked, and the layer kind they count as (pooling of any sort is
# "pool" here: whether it is the right pooling is the function check's business).
SHAPED_LAYERS = {"conv2d": "conv", "linear": "linear", "max_pool2d": "pool", "avg_pool2d": "pool"}


def _describe(shapes):
    return ", ".join(f"{op} {'x'.join(map(str, shape))}" for op, shape in shapes) or "none"


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: layer output shapes", points=4,
                   hint='Check kernel size, padding and pooling of each block against the summary table.')
def test_layer_shapes(graded, model):
    exported = graded.exported(model, MODELS[model]["variable"])
    found = exported.layer_shapes(SHAPED_LAYERS)
    graded.layers[model] = [[kind, list(shape)] for kind, shape in found]
    expected = LAYER_SHAPES[model]
    assert found == expected, f"{MODELS[model]['name']} layers should output [{_describe(expected)}]; yours: [{_describe(found)}]"


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.check("{model}: computes the intended function", points=6,
                   hint='Look for a missing or extra activation, the kind of pooling, and flattening with torch.flatten(x, 1).')
def test_function(graded, model):
    spec = MODELS[model]
    exported = graded.exported(model, spec["variable"])
    torch.manual_seed(graded.settings.seed)
    reference = REFERENCES[model]().eval()
    student = exported.module()
    state = dict(student.state_dict())
    order = exported.parameters_in_use_order()
    references = list(reference.parameters())
    ours = [tuple(p.shape) for p in references]
    theirs = [tuple(state[name].shape) for name in order]
    assert theirs == ours, (
        f"{MODELS[model]['name']}'s weights, in the order its forward uses them, have shapes {theirs}; expected {ours}")
    for name, value in zip(order, references):
        state[name] = value.detach().clone()
    student.load_state_dict(state)
    inputs = torch.randn(graded.settings.export_batch, *spec["input"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, found = reference(inputs), student(inputs)
    assert close(found, expected, graded.settings.tolerance), (
        f"with the reference weights, {MODELS[model]['name']} computes something else than the intended network "
        "(check activations, pooling and the flatten order)")
