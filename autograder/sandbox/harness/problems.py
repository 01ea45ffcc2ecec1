"""The probe problems the harness calls the student's loss, optimizer and ``train_model`` on, drawn from
the job's seed (a different one for every submission, so no answer can be computed ahead).

Inputs only, never answers: the grader recomputes what the student's code should make of them
(``autograder.probes``), out of the sandbox's reach.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from .contract import (
    CRITERION_SHAPE,
    PROBE_BATCH,
    PROBE_CLASSES,
    PROBE_FEATURES,
    PROBE_HIDDEN,
    PROBE_LR,
    PROBE_MARKERS,
    PROBE_MOMENTUM,
    PROBE_TEST_BATCHES,
    PROBE_TRAIN_BATCHES,
    SECOND_BATCHES,
)


def derive_seed(seed: int, purpose: str) -> int:
    """An independent seed for each use of the job's seed."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:6], "big")


def second_batch(seed: int) -> int:
    """The batch size each model is traced for a second time, so that a forward pass written for one
    batch size only shows."""
    low, high = SECOND_BATCHES
    return low + derive_seed(seed, "batch") % (high - low + 1)


def criterion_inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels the criterion is called on."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "criterion"))
    logits = torch.randn(*CRITERION_SHAPE, generator=generator)
    labels = torch.randint(0, CRITERION_SHAPE[1], (CRITERION_SHAPE[0],), generator=generator)
    return logits, labels


def optimizer_gradients(seed: int, shapes: list[tuple[int, ...]]) -> list[torch.Tensor]:
    """The gradient given to each parameter of ``model_fc`` (in order) before each ``opt.step()``."""
    generator = torch.Generator().manual_seed(derive_seed(seed, "optimizer"))
    return [torch.randn(shape, generator=generator) for shape in shapes]


class ProbeNet(nn.Module):
    """The small network ``train_model`` is probed with. Its batch normalisation keeps no running
    statistics (momentum 0), so it behaves differently in train and eval mode, yet extra forward
    passes (metrics, with or without gradients) change nothing: only the training itself shows.

    The last input feature feeds the ``marker`` parameter straight into the logits. That feature is zero
    except in the problem's marker batches, so whatever loss of the logits is minimised, the marker's
    gradient is exactly zero except after a marker batch's backward pass: how the marker moves from batch
    to batch shows when the loop steps and when it clears the gradients."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(PROBE_FEATURES, PROBE_HIDDEN)
        self.norm = nn.BatchNorm1d(PROBE_HIDDEN, momentum=0.0)
        self.out = nn.Linear(PROBE_HIDDEN, PROBE_CLASSES)
        self.marker = nn.Parameter(torch.zeros(PROBE_CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, mark = x[:, :PROBE_FEATURES], x[:, PROBE_FEATURES:PROBE_FEATURES + 1]
        return self.out(torch.relu(self.norm(self.hidden(features)))) + mark * self.marker


def probe_optimizer(net: ProbeNet) -> torch.optim.SGD:
    """The optimizer ``train_model`` is given: plain SGD, except for momentum on the marker."""
    rest = [p for name, p in net.named_parameters() if name != "marker"]
    groups: list[dict] = [{"params": rest}, {"params": [net.marker], "momentum": PROBE_MOMENTUM}]
    return torch.optim.SGD(groups, lr=PROBE_LR)


def state_names(net: ProbeNet) -> list[str]:
    """The entries of a flat state, in order (the count of batches seen is left out: it changes nothing)."""
    return [name for name in net.state_dict() if not name.endswith("num_batches_tracked")]


def flat_state(net: ProbeNet, opt: torch.optim.Optimizer) -> torch.Tensor:
    """The network's state and the marker's momentum buffer, as one vector."""
    state = net.state_dict()
    buffer = opt.state.get(net.marker, {}).get("momentum_buffer") if isinstance(opt.state, dict) else None
    if not isinstance(buffer, torch.Tensor) or buffer.shape != net.marker.shape:
        buffer = torch.zeros_like(net.marker)
    parts = [state[name].detach().float().flatten() for name in state_names(net)] + [buffer.detach().float()]
    return torch.cat([part.cpu() for part in parts])


@dataclass(frozen=True)
class ProbeProblem:
    """One call of ``train_model``: its data, its epochs, its marker batches and the network's start."""

    epochs: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    start: dict[str, torch.Tensor]
    markers: frozenset[int]

    def network(self) -> ProbeNet:
        net = ProbeNet()
        net.load_state_dict(self.start)
        return net

    def batches(self, train: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The batches a ``DataLoader(batch_size=PROBE_BATCH)`` without shuffling yields."""
        x, y = (self.train_x, self.train_y) if train else (self.test_x, self.test_y)
        return [(x[i:i + PROBE_BATCH], y[i:i + PROBE_BATCH]) for i in range(0, len(x), PROBE_BATCH)]


def _drawn(generator: torch.Generator, bounds: tuple[int, int]) -> int:
    return int(torch.randint(bounds[0], bounds[1] + 1, (1,), generator=generator))


def _markers(generator: torch.Generator, batches: int) -> frozenset[int]:
    """One marker batch in each of ``PROBE_MARKERS`` stretches of the epoch, alternately even and odd,
    never the first or last two batches (the batches after each show the step's momentum), and the last
    batch (a step after the epoch then shows whether it used only that batch's gradient)."""
    stretch = batches // PROBE_MARKERS
    found = set()
    for index in range(PROBE_MARKERS):
        low = index * stretch + 1
        at = low + _drawn(generator, (0, stretch - 5))
        found.add(at + (at % 2 != index % 2))
    return frozenset(found | {batches - 1})


def probe_problem(seed: int, epochs: int) -> ProbeProblem:
    """The probe for ``train_model(..., epochs)``: random data, sizes and start of its own."""
    generator = torch.Generator().manual_seed(derive_seed(seed, f"loop {epochs}"))
    train_batches, test_batches = _drawn(generator, PROBE_TRAIN_BATCHES), _drawn(generator, PROBE_TEST_BATCHES)
    teacher = torch.randn(PROBE_FEATURES, PROBE_CLASSES, generator=generator)  # labels a network can learn
    train_x = torch.randn(train_batches * PROBE_BATCH, PROBE_FEATURES, generator=generator)
    test_x = torch.randn(test_batches * PROBE_BATCH, PROBE_FEATURES, generator=generator)
    train_y, test_y = (train_x @ teacher).argmax(dim=1), (test_x @ teacher).argmax(dim=1)
    markers = _markers(generator, train_batches)
    mark = torch.zeros(len(train_x), 1)
    for batch in markers:
        mark[batch * PROBE_BATCH:(batch + 1) * PROBE_BATCH] = torch.randn(PROBE_BATCH, 1, generator=generator)
    train_x, test_x = torch.cat([train_x, mark], dim=1), torch.cat([test_x, torch.zeros(len(test_x), 1)], dim=1)
    start = {}
    for name, tensor in ProbeNet().state_dict().items():
        if name.startswith("norm."):
            start[name] = tensor.clone()       # a fresh batch norm: scale 1, shift 0, statistics 0 and 1
        else:
            fan_in = PROBE_FEATURES if name.startswith("hidden.") else PROBE_HIDDEN
            start[name] = (torch.rand(tensor.shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)
    return ProbeProblem(epochs, train_x, train_y, test_x, test_y, start, markers)
