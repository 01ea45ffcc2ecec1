"""The loss and optimizer of steps 3 and 4, judged by what they compute."""

import pytest
import torch
import torch.nn.functional as F

from autograder.context import close


@pytest.mark.check("criterion is the cross-entropy loss", points=2,
                   hint='Step 3 asks for nn.CrossEntropyLoss(), applied to the raw logits.')
def test_criterion(graded):
    found = graded.criterion
    value = found.get("value")
    assert value is not None, f"criterion is not a loss function (found {found.get('type')})"
    generator = torch.Generator().manual_seed(graded.settings.seed)
    logits = torch.randn(16, 10, generator=generator)
    labels = torch.randint(0, 10, (16,), generator=generator)
    expected = float(F.cross_entropy(logits, labels))
    assert abs(value - expected) <= 1e-5 * max(1.0, expected), (
        f"criterion gives {value:.4f} where the cross-entropy loss gives {expected:.4f} "
        f"(found {found.get('type')})")


@pytest.mark.check("opt is SGD with learning rate 0.1 over model_fc's parameters", points=3,
                   hint='Step 4: torch.optim.SGD(model_fc.parameters(), lr=0.1), nothing else.')
def test_optimizer(graded):
    found = graded.optimizer
    assert found.get("type") == "torch.optim.sgd.SGD", f"opt should be torch.optim.SGD, found {found.get('type')}"
    assert found.get("lr") == [0.1], f"opt's learning rate should be 0.1, found {found.get('lr')}"
    deltas = graded.optimizer_step()
    names = found.get("parameters")
    assert names and names == list(graded.parameters("fc", "model_fc")), "opt.step() should update every parameter of model_fc"
    assert set(deltas) == {f"{step}/{name}" for step in (1, 2) for name in names}, "opt.step() left no complete result"
    generator = torch.Generator().manual_seed(graded.settings.seed + 1)
    gradients = {name: torch.randn(deltas[f"1/{name}"].shape, generator=generator) for name in names}
    for name in names:
        assert close(deltas[f"1/{name}"], -0.1 * gradients[name], 1e-5), (
            f"one opt.step() should move model_fc's {name} by -0.1 x its gradient; it did not")
        assert close(deltas[f"2/{name}"], -0.1 * gradients[name], 1e-5), (
            f"a second opt.step() with the same gradient moved model_fc's {name} differently from the first: "
            "plain SGD has no momentum and no weight decay")
