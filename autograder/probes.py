"""What the student's loss, optimizer and ``train_model`` should have made of the probe problems, and
which known bug explains what they made instead. The grader computes all of it itself.

``train_model`` is judged by its effect on the probe network (``harness.problems``): the final weights
after each call and the test accuracies it returned. The grader replays the loop on the same problem,
as it should be written and with each common single bug, and finds the one whose weights and
accuracies the submission reproduced. Nothing the sandbox says about *how* the loop ran plays a part.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn

from .context import close
from .sandbox.harness.contract import OPTIMIZER_STEPS, PROBE_LR
from .sandbox.harness.problems import ProbeNet, ProbeProblem, criterion_inputs, optimizer_gradients


def expected_loss(seed: int) -> float:
    """The cross-entropy of the criterion probe's logits and labels."""
    logits, labels = criterion_inputs(seed)
    return float(F.cross_entropy(logits, labels))


def expected_sgd_changes(seed: int, shapes: list[tuple[int, ...]], lr: float) -> dict[str, torch.Tensor]:
    """What plain SGD at ``lr`` does to each parameter, step after step, with the probe's gradients."""
    gradients = optimizer_gradients(seed, shapes)
    return {f"{step}/{index}": -lr * gradient for step in range(1, OPTIMIZER_STEPS + 1)
            for index, gradient in enumerate(gradients)}


class Training(Enum):
    """How a loop can train: correctly, or with one of the common single bugs."""

    CORRECT = "correct"
    NO_RESET = "gradients never cleared"
    RESET_PER_EPOCH = "gradients cleared once per epoch, not per batch"
    EVAL_AFTER_FIRST = "epochs after the first train in eval mode"
    TWICE = "applies each batch's gradient twice (two backward passes, or two steps)"
    NO_UPDATE = "the weights never change"


class Evaluation(Enum):
    """How a loop can measure the test accuracy: correctly, or with one of the common single bugs."""

    CORRECT = "correct"
    TRAIN_MODE = "measured in training mode"
    FIRST_BATCH = "measured on the first test batch only"
    LAST_BATCH = "measured on the last test batch only"
    PERCENT = "returned in percent"


def _step_all(net: ProbeNet, opt: torch.optim.Optimizer, problem: ProbeProblem, training: Training, epoch: int) -> None:
    """One epoch of ``training``."""
    net.train(training is not Training.EVAL_AFTER_FIRST or epoch == 0)
    if training is Training.RESET_PER_EPOCH:
        opt.zero_grad()
    for x, y in problem.batches():
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if training is Training.TWICE:  # plain SGD: a second step, or a second backward pass, doubles the update
            opt.step()
        if training not in (Training.NO_RESET, Training.RESET_PER_EPOCH):
            opt.zero_grad()


def trajectory(problem: ProbeProblem, training: Training, epochs: int) -> list[dict[str, torch.Tensor]]:
    """The network's state after 0, 1, ..., ``epochs`` epochs of ``training``."""
    net = problem.network()
    states = [_state(net)]
    if training is Training.NO_UPDATE:
        return states * (epochs + 1)
    opt = torch.optim.SGD(net.parameters(), lr=PROBE_LR)
    for epoch in range(epochs):
        _step_all(net, opt, problem, training, epoch)
        states.append(_state(net))
    return states


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    """The state that training changes (the count of batches seen is left out: extra passes are free)."""
    return {name: value.detach().clone() for name, value in net.state_dict().items()
            if not name.endswith("num_batches_tracked")}


def accuracy(problem: ProbeProblem, state: dict[str, torch.Tensor], evaluation: Evaluation) -> float:
    """The test accuracy of the network in ``state`` as a loop with ``evaluation`` would report it."""
    net = ProbeNet()
    net.load_state_dict({**problem.start, **state})
    net.train(evaluation is Evaluation.TRAIN_MODE)
    batches = problem.batches(train=False)
    if evaluation is Evaluation.FIRST_BATCH:
        batches = batches[:1]
    elif evaluation is Evaluation.LAST_BATCH:
        batches = batches[-1:]
    with torch.no_grad():
        correct = sum(int((net(x).argmax(dim=1) == y).sum()) for x, y in batches)
    fraction = correct / sum(len(y) for _, y in batches)
    return 100 * fraction if evaluation is Evaluation.PERCENT else fraction


@dataclass(frozen=True)
class LoopEffect:
    """The explanation of one ``train_model`` call: how it trained, for how many epochs, and how it
    measured; ``evaluation`` is None when the returned accuracies match no way of measuring."""

    training: Training
    epochs_trained: int
    evaluation: Evaluation | None
    returned: int                     # how many accuracies train_model returned


def _same(found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], tolerance: float) -> bool:
    return set(expected) <= set(found) and all(close(found[k], expected[k], tolerance) for k in expected)


def explain_loop(problem: ProbeProblem, weights: dict[str, torch.Tensor], accuracies: list | None,
                 tolerance: float, extra_epochs: int = 2) -> LoopEffect | None:
    """The known loop (correct first, then each single bug) that leaves ``weights`` and returns
    ``accuracies`` on ``problem``; None when none does."""
    horizon = problem.epochs + extra_epochs
    for training in Training:
        states = trajectory(problem, training, horizon)
        for trained in range(horizon + 1):
            if training is not Training.NO_UPDATE and trained == 0:
                continue  # an unchanged network is the NO_UPDATE explanation
            if _same(weights, states[trained], tolerance):
                return LoopEffect(training, trained, _explain_accuracies(problem, states, accuracies),
                                  len(accuracies or []))
    return None


def _explain_accuracies(problem: ProbeProblem, states: list[dict[str, torch.Tensor]],
                        accuracies: list | None) -> Evaluation | None:
    """The way of measuring whose accuracies after epochs 1, 2, ... are the returned ones."""
    if not accuracies or len(accuracies) >= len(states) or any(a is None for a in accuracies):
        return None
    for evaluation in Evaluation:
        expected = [accuracy(problem, states[epoch], evaluation) for epoch in range(1, len(accuracies) + 1)]
        if all(abs(a - b) <= 1e-6 * max(1.0, abs(b)) for a, b in zip(accuracies, expected, strict=True)):
            return evaluation
    return None
