"""The loss and optimizer of steps 3 and 4, judged by what they compute on inputs drawn for this
submission."""

import pytest

from autograder.assignment import FC, SETUP_CELLS
from autograder.context import CheckFailure, close
from autograder.probes import expected_loss, expected_sgd_changes

# The optimizer the notebook asks for, by its settings (torch.optim.SGD's names).
PLAIN_SGD = {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}


def _defined(graded, found: dict, name: str) -> dict:
    """A probe's section, once the name it probed was defined at all (the probe sees a missing name as None)."""
    if found.get("type") == "builtins.NoneType":
        cause = graded.failed_cell(SETUP_CELLS) or f"define it in the answer cell {SETUP_CELLS[0]}"
        raise CheckFailure(f"{name} is not defined, or is None ({cause})")
    return found


@pytest.mark.check("criterion is the cross-entropy loss", points=2,
                   hint="Step 3 asks for nn.CrossEntropyLoss(), applied to the raw logits.")
def test_criterion(graded):
    found = _defined(graded, graded.section("criterion", "criterion", "criterion could not be used", SETUP_CELLS),
                     "criterion")
    value = found.get("value")
    assert value is not None, f"criterion is not a loss function (found {found.get('type')})"
    expected = expected_loss(graded.seed)
    assert abs(value - expected) <= graded.settings.tolerance * max(1.0, expected), (
        f"criterion gives {value:.4f} where the cross-entropy loss gives {expected:.4f} (found {found.get('type')})")


def _fc_shapes(graded):
    """model_fc's parameter shapes in order, from the graph the grader runs (the optimizer is judged on
    the parameters of a real model_fc, never on shapes the sandbox names). A parameter the graph lists
    under two names (a layer kept in a ``ModuleList`` as well, ``self.fc1 = self.net[0]``) counts once,
    where first listed, as ``model.parameters()`` gives it to the optimizer."""
    try:
        graph = graded.graph(FC)
    except CheckFailure as failure:
        raise CheckFailure(f"opt.step() cannot be judged without model_fc: {failure}") from None
    shapes, seen = [], set()
    for name in graph.program.graph_signature.parameters:
        tensor = graph.program.state_dict[name]
        where = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
        if where not in seen:
            seen.add(where)
            shapes.append(tuple(tensor.shape))
    return shapes


@pytest.mark.check("opt is SGD with learning rate 0.1 over model_fc's parameters", points=3,
                   hint="Step 4: torch.optim.SGD(model_fc.parameters(), lr=0.1), nothing else.")
def test_optimizer(graded):
    found = _defined(graded, graded.section("optimizer", "optimizer", "opt could not be used", SETUP_CELLS), "opt")
    assert found.get("type") == "torch.optim.sgd.SGD", f"opt should be torch.optim.SGD, found {found.get('type')}"
    for group in found.get("groups", []):
        different = {key: group.get(key) for key, value in PLAIN_SGD.items() if group.get(key) != value}
        assert not different, ("opt should be plain SGD with lr=0.1; yours sets "
                               + ", ".join(f"{key}={value}" for key, value in different.items()))
    shapes = _fc_shapes(graded)
    changes = graded.optimizer_changes()
    expected = expected_sgd_changes(graded.seed, shapes, PLAIN_SGD["lr"])
    assert set(changes) == set(expected), "opt.step() should update every parameter of model_fc"
    for key, change in expected.items():
        step, index = key.split("/")
        assert close(changes[key], change, graded.settings.tolerance), (
            f"opt.step() number {step} should move model_fc's parameter {index} by -0.1 x its gradient; it did not")
