"""MNIST access for the notebook and the grader: the one place that knows where the data lives.

The folder comes from the ``MNIST_ROOT`` environment variable (default: ``data`` in the current
working directory, i.e. beside the notebook). It uses torchvision's layout (``<root>/MNIST/raw``), so
an existing copy is used as it is and a missing one is downloaded where the internet is reachable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torchvision import datasets

ROOT_VARIABLE = "MNIST_ROOT"
DEFAULT_ROOT = "data"


class MNISTNotFoundError(RuntimeError):
    """MNIST is neither in the data folder nor downloadable."""

    grader_fault = True   # for the autograder: a set-up problem its message explains, not a bug to trace


def mnist_root() -> Path:
    """The data folder named by ``MNIST_ROOT`` (default ``./data``)."""
    return Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT).expanduser()


def load_mnist(train: bool, transform: Callable | None = None) -> datasets.MNIST:
    """The MNIST training (60000 images) or test (10000 images) set from :func:`mnist_root`.

    Downloads it when it is missing; raises :class:`MNISTNotFoundError` with a short hint on what
    to do when that is impossible (offline, read-only folder).
    """
    root = mnist_root()
    made = [folder for folder in (root, root / "MNIST", root / "MNIST" / "raw") if not folder.exists()]
    try:
        return datasets.MNIST(str(root), train=train, transform=transform, download=True)
    except (OSError, RuntimeError) as error:
        for folder in reversed(made):   # a failed download leaves no empty folders that look like data
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        cause = str(error).splitlines()[0].rstrip(":")
        raise MNISTNotFoundError(
            f"MNIST is not in {root.resolve()}/MNIST/raw and could not be downloaded ({cause}). "
            f"Set {ROOT_VARIABLE} to a folder that holds MNIST/raw/ (torchvision's layout), "
            "or run once with internet access."
        ) from None


def load_mnist_pixels(train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as raw pixels: images ``(N, 1, 28, 28)`` uint8 and labels ``(N,)``.

    A quarter of the memory of float images; :func:`pixels_to_float` converts a batch when it is used.
    """
    dataset = load_mnist(train)
    return dataset.data.unsqueeze(1), dataset.targets.clone()


def pixels_to_float(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels as float32 in [0, 1]: the values ``transforms.ToTensor`` gives."""
    return pixels.to(torch.float32).div_(255.0)


class FlattenImage:
    """Transform turning a ``(1, 28, 28)`` image tensor into a 784-vector.

    A class rather than a lambda so that DataLoader worker processes can pickle it on every OS.
    """

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return image.reshape(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
