"""Helpers imported by the MNIST exercise notebook: data, metrics, convolution pictures, a drawing pad."""

from .data import (FlattenImage, MNISTNotFoundError, load_mnist, load_mnist_pixels, mnist_root,
                   pixels_to_float)
from .drawing_pad import DrawingPad
from .images import load_blackwhite_image, visualize_convolution
from .training import accuracy, count_parameters, seed_everything

__all__ = [
    "DrawingPad",
    "FlattenImage",
    "MNISTNotFoundError",
    "accuracy",
    "count_parameters",
    "load_blackwhite_image",
    "load_mnist",
    "load_mnist_pixels",
    "mnist_root",
    "pixels_to_float",
    "seed_everything",
    "visualize_convolution",
]
