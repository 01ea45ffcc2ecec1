"""Helpers imported by the MNIST exercise notebook: data, metrics, convolution pictures, a drawing pad,
the self-check of the parameter-count answers."""

from .answers import check_arithmetic_answer
from .data import FlattenImage, MNISTNotFoundError, load_mnist, load_mnist_pixels, mnist_root, pixels_to_float
from .drawing_pad import DrawingPad
from .images import load_blackwhite_image, visualize_convolution
from .training import accuracy, count_parameters, seed_everything

__all__ = [
    "DrawingPad",
    "FlattenImage",
    "MNISTNotFoundError",
    "accuracy",
    "check_arithmetic_answer",
    "count_parameters",
    "load_blackwhite_image",
    "load_mnist",
    "load_mnist_pixels",
    "mnist_root",
    "pixels_to_float",
    "seed_everything",
    "visualize_convolution",
]
