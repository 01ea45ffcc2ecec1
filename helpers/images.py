"""Images for the convolution part of the notebook: loading one and showing what a kernel does to it."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError


def load_blackwhite_image(path: str | Path) -> np.ndarray:
    """Load an image file as a 2-D grey-level array of floats in [0, 1] (colour images are converted)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {path.resolve()}")
    try:
        with Image.open(path) as picture:
            grey = picture.convert("L")
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file PIL can read") from None
    return np.asarray(grey, dtype=np.float64) / 255.0


def _check_2d(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    return array


def visualize_convolution(image: np.ndarray, kernel: np.ndarray) -> Figure:
    """Convolve ``image`` with ``kernel`` and show input, kernel (with its weights) and output side by side.

    The output has the input's size (``mode="same"``, zero padding), like ``nn.Conv2d`` with padding
    ``k // 2``. Returns the figure so that callers can save or inspect it.
    """
    image = _check_2d("image", image)
    kernel = _check_2d("kernel", kernel)
    from scipy.signal import convolve2d  # here: its import (about 0.6 s) was every notebook's to pay at its first cell

    output = convolve2d(image, kernel, mode="same", boundary="fill", fillvalue=0.0)

    figure, (ax_in, ax_kernel, ax_out) = plt.subplots(
        1, 3, figsize=(12, 4), gridspec_kw={"width_ratios": [4, 2, 4]}
    )
    ax_in.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
    ax_in.set_title(f"input {image.shape[0]}x{image.shape[1]}")

    limit = max(np.abs(kernel).max(), 1e-12)
    ax_kernel.imshow(kernel, cmap="coolwarm", vmin=-limit, vmax=limit)
    ax_kernel.set_title(f"kernel {kernel.shape[0]}x{kernel.shape[1]}")
    if kernel.size <= 49:
        for (row, col), weight in np.ndenumerate(kernel):
            ax_kernel.text(col, row, f"{weight:.2g}", ha="center", va="center", fontsize=9)

    ax_out.imshow(output, cmap="gray")
    ax_out.set_title("output (same size, zero padding)")
    for axis in (ax_in, ax_kernel, ax_out):
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    return figure
