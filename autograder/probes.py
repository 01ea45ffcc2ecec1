"""What the student's loss, optimizer and ``train_model`` should have made of the probe problems. The
grader computes all of it itself, out of the sandbox's reach.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
import torch.nn.functional as F

from .sandbox.harness.contract import OPTIMIZER_STEPS
from .sandbox.harness.problems import (
    ProbeNet,
    ProbeProblem,
    criterion_inputs,
    flat_state,
    optimizer_gradients,
    probe_optimizer,
    state_names,
)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def expected_loss(seed: int) -> float:
    """The cross-entropy of the criterion probe's logits and labels."""
    logits, labels = criterion_inputs(seed)
    return float(F.cross_entropy(logits, labels))


def expected_sgd_changes(seed: int, shapes: list[tuple[int, ...]], lr: float) -> dict[str, torch.Tensor]:
    """What plain SGD at ``lr`` does to each parameter, step after step, with the probe's gradients."""
    gradients = optimizer_gradients(seed, shapes)
    return {f"{step}/{index}": -lr * gradient for step in range(1, OPTIMIZER_STEPS + 1)
            for index, gradient in enumerate(gradients)}


@cache
def _layout() -> tuple[tuple[str, torch.Size, int, int], ...]:
    """Where each entry of the state lies in a flat state: (name, shape, start, end)."""
    template, found, at = ProbeNet().state_dict(), [], 0
    for name in state_names(ProbeNet()):
        found.append((name, template[name].shape, at, at + template[name].numel()))
        at += template[name].numel()
    return tuple(found)


def unflatten(flat: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """A flat state (``problems.flat_state``) as a state dict and the marker's momentum buffer."""
    layout = _layout()
    state = {name: flat[start:end].reshape(shape).clone() for name, shape, start, end in layout}
    return state, flat[layout[-1][3]:].clone()


def marker_and_momentum(flat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The marker parameter and its momentum buffer in a flat state."""
    (start, end), = [(start, end) for name, _, start, end in _layout() if name == "marker"]
    return flat[start:end], flat[_layout()[-1][3]:]


def network(state: dict[str, torch.Tensor]) -> ProbeNet:
    net = ProbeNet()
    net.load_state_dict(state, strict=False)
    return net


def replay(problem: ProbeProblem, flat: torch.Tensor, batches: int, train_mode: bool = True,
           loss: Loss = F.cross_entropy) -> torch.Tensor:
    """The flat state (weights and the marker's momentum) a correct loop reaches from ``flat`` after
    training on the first ``batches`` training batches; ``train_mode`` and ``loss`` replay a known bug."""
    state, buffer = unflatten(flat)
    net = network(state)
    opt = probe_optimizer(net)
    opt.state[net.marker]["momentum_buffer"] = buffer
    net.train(train_mode)
    for x, y in problem.batches()[:batches]:
        opt.zero_grad()
        loss(net(x), y).backward()
        opt.step()
    return flat_state(net, opt)


def trajectory(problem: ProbeProblem, epochs: int) -> list[dict[str, torch.Tensor]]:
    """The network's state after 0, 1, ..., ``epochs`` epochs of a correct loop."""
    net = problem.network()
    opt = probe_optimizer(net)
    names = state_names(net)
    states = [{name: net.state_dict()[name].clone() for name in names}]
    net.train()
    for _ in range(epochs):
        for x, y in problem.batches():
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        states.append({name: net.state_dict()[name].detach().clone() for name in names})
    return states


def accuracy(problem: ProbeProblem, state: dict[str, torch.Tensor], train_mode: bool = False,
             batches: int | None = None, training_data: bool = False, batch_size: int | None = None) -> float:
    """The fraction of the first ``batches`` test batches (all by default; of the training batches with
    ``training_data``) that the network in ``state`` classifies correctly, in eval mode unless
    ``train_mode`` (where the normalisation's statistics, hence the result, depend on the batches: those
    of the probe's loaders, or of ``batch_size``)."""
    net = network({**problem.start, **state})
    net.train(train_mode)
    measured = problem.batches(train=training_data)[:batches]
    if batch_size is not None:
        x, y = torch.cat([x for x, _ in measured]), torch.cat([y for _, y in measured])
        measured = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    with torch.no_grad():
        correct = sum(int((net(x).argmax(dim=1) == y).sum()) for x, y in measured)
    return correct / max(1, sum(len(y) for _, y in measured))
