"""The student's train_model on a small probe problem, judged by its effects wherever it has one.

The harness's probe model logs each forward pass (which training and test samples it saw, in which
mode), each loss with the forward pass it consumed, each backward pass with whether the previous
batch's gradients were still there, and each optimizer step. A *training step* is a forward pass over
training samples in train mode with gradients on; passes under ``no_grad`` (extra metrics) are free.
"""

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


def _is_training_step(event):
    return event["event"] == "forward" and event.get("training") and event.get("grad_enabled") and event.get("train_rows")


def _training_steps(events):
    """The log cut at each training step: [(forward event, the events up to the next training step)]."""
    steps = []
    for event in events:
        if _is_training_step(event):
            steps.append((event, []))
        elif steps:
            steps[-1][1].append(event)
    return steps


def _attributed_losses(events):
    """Each loss paired with the forward pass it consumed (an unrecognised tensor: the latest pass)."""
    latest, pairs = None, []
    for event in events:
        if event["event"] == "forward":
            latest = event.get("index")
        elif event["event"] == "loss":
            pairs.append(event["forward"] if event.get("forward") is not None else latest)
    return pairs


@pytest.mark.check("train_model: one forward, loss, backward and optimizer step per batch", points=5,
                   hint='Steps 6 to 9 happen exactly once per batch, in that order.')
def test_steps_per_batch(graded):
    events = graded.loop(2)["events"]
    steps = _training_steps(events)
    assert steps, "train_model never called the model on a training batch in training mode with gradients on"
    losses = _attributed_losses(events)
    for number, (forward, after) in enumerate(steps, start=1):
        consumed = losses.count(forward.get("index"))
        names = [event["event"] for event in after]
        counts = {"loss": consumed, "backward": names.count("backward"), "step": names.count("step")}
        assert counts == {"loss": 1, "backward": 1, "step": 1}, (
            f"training batch {number}: its forward pass was followed by "
            + ", ".join(f"{count} {name}" for name, count in counts.items()) + " (expected one of each)")
        assert names.index("backward") < names.index("step"), (
            f"training batch {number}: opt.step() ran before loss.backward()")


@pytest.mark.check("train_model: resets the gradients every batch", points=4,
                   hint='Step 10: clear the gradients once per batch (opt.zero_grad(), model.zero_grad(), ...), otherwise they accumulate.')
def test_gradient_reset(graded):
    """Judged at each batch's first backward pass: were the gradients of the batch before still there?"""
    firsts = [next((e for e in after if e["event"] == "backward"), None) for _, after in _training_steps(graded.loop(2)["events"])]
    firsts = [event for event in firsts if event is not None]
    assert firsts, "train_model never ran a backward pass after a training batch"
    stale = [number for number, event in enumerate(firsts, start=1) if event.get("stale")]
    assert not stale, (
        f"when batch {stale[0]}'s backward pass ran, the previous batch's gradients were still there, so they "
        "accumulated: clear them once per batch (before backward or after step)")


@pytest.mark.check("train_model: weights match a reference loop from the same start", points=6,
                   hint='Use the crit and opt passed in, one backward and one step per batch, and reset the gradients.')
def test_weights_match_reference(graded):
    """Compared after as many epochs as the loop actually trained, so ignoring ``epochs`` costs only the
    epochs check."""
    spec = graded.settings.loop_probe
    batches = len(_probe_batches(spec))
    compared = 0
    for epochs in spec["epochs"]:
        trained, remainder = divmod(len(_training_steps(graded.loop(epochs)["events"])), batches)
        if remainder or not trained or trained > 10:
            continue
        found, expected = graded.loop_weights(epochs), reference_weights(spec, trained)
        assert set(found) == set(expected), "train_model changed the model's structure"
        assert all(close(found[k], expected[k], graded.settings.tolerance) for k in expected), (
            f"after {trained} epoch(s) on a small probe problem, the weights differ from those of a correct loop "
            "started from the same weights")
        compared += 1
    assert compared, "train_model never trained whole epochs over the training batches"


@pytest.mark.check("train_model: trains for the given number of epochs", points=4,
                   hint='Loop over range(epochs) and return one test accuracy per epoch.')
def test_honours_epochs(graded):
    spec = graded.settings.loop_probe
    batches = len(_probe_batches(spec))
    for epochs in spec["epochs"]:
        log = graded.loop(epochs)
        trained = len(_training_steps(log["events"]))
        assert trained == epochs * batches, (
            f"with epochs={epochs} and {batches} batches per epoch, expected {epochs * batches} training "
            f"steps, found {trained}")
        accuracies = log["test_acc"]
        assert isinstance(accuracies, list) and len(accuracies) == epochs, (
            f"with epochs={epochs}, the returned history should hold {epochs} test accuracies, found {accuracies}")


def _test_passes(graded):
    """For 2 epochs: how often each test sample reached the model, by (training mode, gradients on)."""
    spec = graded.settings.loop_probe
    seen = {}
    for event in graded.loop(2)["events"]:
        if event["event"] == "forward":
            for row in event.get("test_rows", []):
                seen.setdefault(row, []).append((bool(event.get("training")), bool(event.get("grad_enabled"))))
    assert seen, "train_model never ran the model on the test samples"
    missing = spec["test_samples"] - len(seen)
    assert not missing, f"{missing} of the {spec['test_samples']} test samples never reached the model"
    return seen


@pytest.mark.check("train_model: evaluates in eval mode", points=3,
                   hint='Call model.eval() before measuring the test accuracy.')
def test_evaluation_mode(graded):
    seen = _test_passes(graded)
    assert all(any(not training for training, _ in passes) for passes in seen.values()), (
        "the test samples reached the model in training mode only: call model.eval() before evaluating")


@pytest.mark.check("train_model: evaluates without gradients", points=3,
                   hint='Measure the test accuracy inside `with torch.no_grad():`.')
def test_evaluation_without_gradients(graded):
    seen = _test_passes(graded)
    assert all(any(not gradients for _, gradients in passes) for passes in seen.values()), (
        "the test samples reached the model with gradient tracking on: evaluate inside `with torch.no_grad():`")
