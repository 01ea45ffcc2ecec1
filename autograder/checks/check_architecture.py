"""Layer output shapes and, with the reference weights copied in, the function each model computes."""

import pytest
import torch

from autograder.context import close
from autograder.assignment import LAYER_SHAPES, MODELS
from autograder.reference import intended_forward
from autograder.training import reinitialise



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
    """Judged with the student's own layers (their sizes, their convolution settings) under fresh random
    weights: only the order of operations, the activations, the pooling and the flattening count."""
    spec = MODELS[model]
    exported = graded.exported(model, spec["variable"])
    student = exported.module()
    reinitialise(student, graded.settings.seed)
    layers = exported.affine_layers()
    kinds = [layer["kind"] for layer in layers]
    if spec["input"] == (784,):
        assert "conv" not in kinds, f"{spec['name']} should use linear layers only, found {kinds.count('conv')} convolutions"
    else:
        assert "conv" in kinds, f"{spec['name']} should start with convolutions, found none"
    inputs = torch.randn(graded.settings.export_batch, *spec["input"], generator=torch.Generator().manual_seed(1))
    state = dict(student.state_dict())
    with torch.no_grad():
        found = student(inputs)
        try:
            expected = intended_forward(layers, state, inputs)
        except (ValueError, RuntimeError) as error:
            raise AssertionError(f"{spec['name']}'s layers cannot be chained as the assignment intends "
                                 f"({' '.join(str(error).split())[:150]})") from None
    assert close(found, expected, graded.settings.tolerance), (
        f"{spec['name']} computes something else than the intended network with its own layers "
        "(check activations, pooling and the flatten order)")
