"""Training and testing an exported model in the grader's own process (no student Python runs here)."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from helpers.data import pixels_to_float

TRAINING_THREADS = 2    # the accuracy trainings at once, each on one thread of its own (``GradingContext.accuracy``)


def reinitialise(module: nn.Module, seed: int) -> set[str]:
    """Every parameter and statistic afresh, from a fixed seed, so that the accuracy reflects the
    architecture, never weights the submission carried: PyTorch's default initialisation for weights
    of two or more dimensions and their biases, zeros for other biases and ones for other scales,
    and the initial batch-norm statistics (``artifacts`` refuses graphs with any other state).
    Returns the names of the parameters drawn at random (the others are constants)."""
    generator = torch.Generator().manual_seed(seed)
    parameters, done = dict(module.named_parameters()), set()
    with torch.no_grad():
        for name, tensor in parameters.items():
            if tensor.dim() < 2:
                continue
            nn.init.kaiming_uniform_(tensor, a=math.sqrt(5), generator=generator)
            bias_name = name[: -len("weight")] + "bias"
            bias = parameters.get(bias_name) if name.endswith("weight") else None
            if bias is not None and bias.dim() == 1:
                bound = 1 / math.sqrt(tensor[0].numel())
                nn.init.uniform_(bias, -bound, bound, generator=generator)
                done.add(bias_name)
            done.add(name)
        for name, tensor in parameters.items():
            if name not in done:
                (nn.init.zeros_ if name.endswith("bias") else nn.init.ones_)(tensor)
        for name, buffer in module.named_buffers():
            if name.endswith("running_var"):
                buffer.fill_(1)
            else:
                buffer.zero_()
    return done


def reveal(module: nn.Module, seed: int) -> None:
    """``reinitialise``, then random values for every parameter and statistic it left constant (scales
    of 1, biases of 0 outside the layers, a batch norm's fresh statistics): under them a layer the
    assignment does not ask for (a normalisation in eval mode, ``torch.maximum(x, p)``) is no identity,
    so that comparing outputs sees every layer of the graph."""
    drawn = reinitialise(module, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if name in drawn or not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.uniform_(0.25, 4.0, generator=generator)
            elif name.endswith("weight") or not name.endswith(("bias", "running_mean")):
                tensor.uniform_(0.5, 2.0, generator=generator)
            else:
                tensor.uniform_(-1.0, 1.0, generator=generator)


class Trained(NamedTuple):
    accuracy: float
    cpu_seconds: float    # the thread's CPU time at the deadline's last check: a budget below it would have failed


def over_budget(cpu_seconds: float) -> TimeoutError:
    return TimeoutError(f"training took more than {cpu_seconds:g} s of CPU time")


def _layout(module: nn.Module, input_shape: tuple[int, ...], batch_size: int) -> torch.memory_format:
    """Channels-last for image input: CPU convolutions run about a third faster in it. A graph that
    cannot take it (one that views a channels-last tensor as flat fails) keeps the default layout."""
    if len(input_shape) != 3:
        return torch.contiguous_format
    try:
        with torch.no_grad():
            module.to(memory_format=torch.channels_last)(
                torch.zeros(batch_size, *input_shape).contiguous(memory_format=torch.channels_last))
        return torch.channels_last
    except RuntimeError:
        module.to(memory_format=torch.contiguous_format)
        return torch.contiguous_format


def train_and_test(
    module: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    input_shape: tuple[int, ...],
    iterations: int,
    test_images: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    cpu_seconds: float,
) -> Trained:
    """Reinitialise, train with Adam on the first ``iterations`` batches (in a fixed order), return the
    accuracy on the first ``test_images`` test images, with the CPU time the deadline last saw. Adam
    reaches a telling accuracy in far fewer steps than the notebook's SGD.

    ``train`` and ``test`` hold uint8 pixels (see ``helpers.data.load_mnist_pixels``); each batch is
    converted to floats when it is used, which keeps the grader's memory small. Training stops with
    ``TimeoutError`` after ``cpu_seconds`` of its thread's CPU time (not wall time, which a busy machine
    stretches, nor the process's, which trainings beside it share); each step's cost is bounded by
    ``artifacts.COST_FACTOR``.
    """
    started = checked = time.thread_time()
    deadline = started + cpu_seconds
    layout = _layout(module, input_shape, batch_size)
    reinitialise(module, seed)
    module.to(device)
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    images, labels = train
    for start in range(0, iterations * batch_size, batch_size):
        x = pixels_to_float(images[start:start + batch_size]).reshape(batch_size, *input_shape)
        x = x.to(device, memory_format=layout)
        loss = F.cross_entropy(module(x), labels[start:start + batch_size].to(device))
        loss.backward()
        opt.step()
        opt.zero_grad()
        checked = time.thread_time()
        if checked > deadline:
            raise over_budget(cpu_seconds)
    correct = 0
    images, labels = test[0][:test_images], test[1][:test_images]
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = pixels_to_float(images[start:start + batch_size]).reshape(batch_size, *input_shape)
            x = x.to(device, memory_format=layout)
            correct += int((module(x).argmax(dim=1).cpu() == labels[start:start + batch_size]).sum())
    return Trained(correct / len(images), checked - started)
