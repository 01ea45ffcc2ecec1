"""The reference solution of the assignment, as the hidden checks know it (never shipped to students)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Activation = Callable[[torch.Tensor], torch.Tensor]
Pooling = Callable[[torch.Tensor, int], torch.Tensor]

# The reference models take their activation (and pooling, and widths) as arguments, with the assignment's
# as defaults, so that ``scripts/calibrate_accuracy.py`` can train the variants students submit.


class ReferenceFC(nn.Module):
    def __init__(self, widths: tuple[int, int, int] = (512, 256, 128), act: Activation = F.relu) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, widths[0]), nn.Linear(widths[0], widths[1])
        self.fc3, self.fc4 = nn.Linear(widths[1], widths[2]), nn.Linear(widths[2], 10)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        return self.fc4(self.act(self.fc3(x)))


class ReferenceLeNet(nn.Module):
    def __init__(self, act: Activation = F.relu, pool: Pooling = F.max_pool2d) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 16, 3, padding=1)
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)
        self.act, self.pool = act, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x)), 2)
        x = self.pool(self.act(self.conv2(x)), 2).flatten(1)
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


class ReferenceCNN(nn.Module):
    def __init__(self, filters: tuple[int, int, int] = (16, 32, 64), act: Activation = F.relu,
                 pool: Pooling = F.max_pool2d) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, filters[0], 3, padding=1)
        self.conv2 = nn.Conv2d(filters[0], filters[1], 3, padding=1)
        self.conv3 = nn.Conv2d(filters[1], filters[2], 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(filters[2] * 9, 128), nn.Linear(128, 10)
        self.act, self.pool = act, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3):
            x = self.pool(self.act(conv(x)), 2)
        return self.fc2(self.act(self.fc1(x.flatten(1))))


def intended_forward(layers: list[dict], state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """What the assignment's architecture computes with whatever layers the student chose: every
    convolution followed by ReLU and 2x2 max pooling, then flattening, then the linear layers with ReLU
    between them and none after the last. ``layers`` come from ``ExportedModel.affine_layers`` (sizes and
    convolution settings are the student's), so a wrong width costs the size checks, not this one."""
    convolutions = [layer for layer in layers if layer["kind"] == "conv"]
    linears = [layer for layer in layers if layer["kind"] == "linear"]
    if layers != convolutions + linears:
        raise ValueError("a convolution comes after a linear layer")
    for conv in convolutions:
        bias = state[conv["bias"]] if conv["bias"] else None
        x = F.conv2d(x, state[conv["weight"]], bias, conv["stride"], conv["padding"], conv["dilation"], conv["groups"])
        x = F.max_pool2d(F.relu(x), 2)
    x = x.flatten(1)
    for index, linear in enumerate(linears):
        x = F.linear(x, state[linear["weight"]], state[linear["bias"]] if linear["bias"] else None)
        if index < len(linears) - 1:
            x = F.relu(x)
    return x


# Reference implementation of each graded model, by the keys of ``assignment.MODELS``.
REFERENCES = {"fc": ReferenceFC, "lenet": ReferenceLeNet, "cnn": ReferenceCNN}

