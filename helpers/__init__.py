"""Helpers imported by the MNIST exercise notebook: data, metrics, convolution pictures, a drawing pad,
the self-check of the parameter-count answers.

Each name is imported from its module when it is first used: the grader needs only the data and the
answers' parser, and importing matplotlib and scipy with the rest cost it about 0.6 s of CPU a grading.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:   # for type checkers: at run time ``__getattr__`` imports each name when it is asked for
    from .answers import check_arithmetic_answer  # noqa: F401
    from .data import FlattenImage, MNISTNotFoundError, load_mnist, load_mnist_pixels, mnist_root, pixels_to_float  # noqa: F401
    from .drawing_pad import DrawingPad  # noqa: F401
    from .images import load_blackwhite_image, visualize_convolution  # noqa: F401
    from .training import accuracy, count_parameters, seed_everything  # noqa: F401

_MODULE_OF = {
    "check_arithmetic_answer": "answers",
    "FlattenImage": "data",
    "MNISTNotFoundError": "data",
    "load_mnist": "data",
    "load_mnist_pixels": "data",
    "mnist_root": "data",
    "pixels_to_float": "data",
    "DrawingPad": "drawing_pad",
    "load_blackwhite_image": "images",
    "visualize_convolution": "images",
    "accuracy": "training",
    "count_parameters": "training",
    "seed_everything": "training",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """``helpers.X``: the name from its module, imported now and kept for the next use."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
