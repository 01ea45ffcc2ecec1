"""Small numeric helpers shared by the notebook and the grader."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch import nn


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` (N, classes) whose largest entry is at the index in ``labels``."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, classes), got {tuple(logits.shape)}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(
            f"labels must have shape ({logits.shape[0]},) to match the logits, got {tuple(labels.shape)}"
        )
    if len(labels) == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=1) == labels).float().mean().item()


def count_parameters(model: nn.Module) -> int:
    """Number of learnable (``requires_grad``) scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so that runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
