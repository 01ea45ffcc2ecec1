"""The reference solution of the assignment, as the hidden checks know it (never shipped to students)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ReferenceFC(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc4(F.relu(self.fc3(x)))


class ReferenceLeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 3, padding=1), nn.Conv2d(6, 16, 3, padding=1)
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class ReferenceCNN(nn.Module):
    def __init__(self, filters: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, filters[0], 3, padding=1)
        self.conv2 = nn.Conv2d(filters[0], filters[1], 3, padding=1)
        self.conv3 = nn.Conv2d(filters[1], filters[2], 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(filters[2] * 9, 128), nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


# Reference implementation of each graded model, by the keys of ``assignment.MODELS``.
REFERENCES = {"fc": ReferenceFC, "lenet": ReferenceLeNet, "cnn": ReferenceCNN}


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
