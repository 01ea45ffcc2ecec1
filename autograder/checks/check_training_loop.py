"""The student's train_model on a small probe problem: its calls, their order, and their effect."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.context import close


def _probe_batches(spec):
    """The probe data exactly as the sandbox harness draws it."""
    generator = torch.Generator().manual_seed(spec["seed"])
    x = torch.randn(spec["samples"], 6, generator=generator)
    y = torch.randint(0, 3, (spec["samples"],), generator=generator)
    size = spec["batch_size"]
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def reference_weights(spec, epochs):
    """Weights after the textbook loop from the harness's starting point."""
    torch.manual_seed(spec["seed"])
    model = nn.ModuleDict({"hidden": nn.Linear(6, 12), "out": nn.Linear(12, 3)})
    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"])
    for _ in range(epochs):
        for x, y in _probe_batches(spec):
            loss = F.cross_entropy(model["out"](torch.relu(model["hidden"](x))), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
    return {k: v.detach() for k, v in model.state_dict().items()}


def _training_segments(events):
    """Split the log at each training forward pass: one segment per training batch."""
    segments = []
    for event in events:
        if event["event"] == "forward" and event["kind"] == "train":
            segments.append([])
        if segments and not (event["event"] == "forward" and event["kind"] == "test"):
            segments[-1].append(event["event"])
    return segments


@pytest.mark.check("train_model: one forward, loss, backward and optimizer step per batch", points=5,
                   hint='Steps 6 to 9 happen exactly once per batch, in that order.')
def test_steps_per_batch(graded):
    events = graded.loop(2)["events"]
    segments = _training_segments(events)
    assert segments, "train_model never called the model on a training batch"
    for index, segment in enumerate(segments):
        counts = {name: segment.count(name) for name in ("forward", "loss", "backward", "step")}
        assert counts == {"forward": 1, "loss": 1, "backward": 1, "step": 1}, (
            f"training batch {index + 1}: expected 1 forward, 1 loss, 1 backward and 1 step, found "
            + ", ".join(f"{v} {k}" for k, v in counts.items()))
        assert segment.index("loss") < segment.index("backward") < segment.index("step"), (
            f"training batch {index + 1}: the steps run in the order {segment}")


@pytest.mark.check("train_model: resets the gradients every batch", points=4,
                   hint='Step 10: opt.zero_grad() once per batch, otherwise gradients accumulate.')
def test_gradient_reset(graded):
    events = [e["event"] for e in graded.loop(2)["events"]]
    backwards = [i for i, name in enumerate(events) if name == "backward"]
    assert backwards, "train_model never ran a backward pass"
    for previous, current in zip(backwards, backwards[1:]):
        between = events[previous + 1:current]
        assert "zero_grad" in between, (
            "gradients are not reset between two backward passes, so they pile up: call opt.zero_grad() "
            "once per batch (before backward or after step)")


@pytest.mark.check("train_model: weights match a reference loop from the same start", points=6,
                   hint='Use the crit and opt passed in, one backward and one step per batch, and reset the gradients.')
def test_weights_match_reference(graded):
    spec = graded.settings.loop_probe
    found = graded.loop_weights(2)
    expected = reference_weights(spec, 2)
    assert set(found) == set(expected), "train_model changed the model's structure"
    assert all(close(found[k], expected[k], graded.settings.tolerance) for k in expected), (
        "after 2 epochs on a small probe problem, the weights differ from those of a correct loop started "
        "from the same weights")


@pytest.mark.check("train_model: trains for the given number of epochs", points=4,
                   hint='Loop over range(epochs) and return one test accuracy per epoch.')
def test_honours_epochs(graded):
    spec = graded.settings.loop_probe
    batches = len(_probe_batches(spec))
    for epochs in spec["epochs"]:
        log = graded.loop(epochs)
        trained = sum(1 for e in log["events"] if e["event"] == "forward" and e["kind"] == "train")
        assert trained == epochs * batches, (
            f"with epochs={epochs} and {batches} batches per epoch, expected {epochs * batches} training "
            f"forward passes, found {trained}")
        accuracies = log["test_acc"]
        assert isinstance(accuracies, list) and len(accuracies) == epochs, (
            f"with epochs={epochs}, the returned history should hold {epochs} test accuracies, found {accuracies}")


def _test_forwards(graded):
    forwards = [e for e in graded.loop(2)["events"] if e["event"] == "forward" and e["kind"] == "test"]
    assert forwards, "train_model never ran the model on the test loader"
    return forwards


@pytest.mark.check("train_model: evaluates in eval mode", points=3,
                   hint='Call model.eval() before measuring the test accuracy.')
def test_evaluation_mode(graded):
    forwards = _test_forwards(graded)
    assert not any(e["training"] for e in forwards), "the test set is evaluated in training mode: call model.eval()"


@pytest.mark.check("train_model: evaluates without gradients", points=3,
                   hint='Measure the test accuracy inside `with torch.no_grad():`.')
def test_evaluation_without_gradients(graded):
    forwards = _test_forwards(graded)
    assert not any(e["grad_enabled"] for e in forwards), (
        "the test set is evaluated with gradient tracking on: wrap it in `with torch.no_grad():`")
