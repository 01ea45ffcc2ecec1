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
    PROBE_TEST,
    PROBE_TRAIN,
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
    passes (metrics, with or without gradients) change nothing: only the training itself shows."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(PROBE_FEATURES, PROBE_HIDDEN)
        self.norm = nn.BatchNorm1d(PROBE_HIDDEN, momentum=0.0)
        self.out = nn.Linear(PROBE_HIDDEN, PROBE_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.norm(self.hidden(x))))


@dataclass(frozen=True)
class ProbeProblem:
    """One call of ``train_model``: its data, its epochs and the network's starting weights."""

    epochs: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    start: dict[str, torch.Tensor]

    def network(self) -> ProbeNet:
        net = ProbeNet()
        net.load_state_dict(self.start)
        return net

    def batches(self, train: bool = True) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The batches a ``DataLoader(batch_size=PROBE_BATCH)`` without shuffling yields."""
        x, y = (self.train_x, self.train_y) if train else (self.test_x, self.test_y)
        return [(x[i:i + PROBE_BATCH], y[i:i + PROBE_BATCH]) for i in range(0, len(x), PROBE_BATCH)]


def probe_problem(seed: int, epochs: int) -> ProbeProblem:
    """The probe for ``train_model(..., epochs)``: random data and a random start of its own."""
    generator = torch.Generator().manual_seed(derive_seed(seed, f"loop {epochs}"))
    teacher = torch.randn(PROBE_FEATURES, PROBE_CLASSES, generator=generator)  # labels a network can learn
    train_x = torch.randn(PROBE_TRAIN, PROBE_FEATURES, generator=generator)
    test_x = torch.randn(PROBE_TEST, PROBE_FEATURES, generator=generator)
    train_y, test_y = (train_x @ teacher).argmax(dim=1), (test_x @ teacher).argmax(dim=1)
    start = {}
    for name, tensor in ProbeNet().state_dict().items():
        if name.startswith("norm."):
            start[name] = tensor.clone()       # a fresh batch norm: scale 1, shift 0, statistics 0 and 1
        else:
            bound = 1 / math.sqrt(PROBE_FEATURES if name.startswith("hidden.") else PROBE_HIDDEN)
            start[name] = (torch.rand(tensor.shape, generator=generator) * 2 - 1) * bound
    return ProbeProblem(epochs, train_x, train_y, test_x, test_y, start)
