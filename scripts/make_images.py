"""Draw the images the notebook shows: the three architecture diagrams and the grey-level photo.

Run from the repository root after changing an architecture: ``python scripts/make_images.py``.
Writes into ``source/cnn/img/``; regenerate the release afterwards so students get them too.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import cbook
from matplotlib.patches import FancyBboxPatch
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "source" / "cnn" / "img"

COLOURS = {
    "input": "#d9d9d9",
    "conv": "#8ecae6",
    "pool": "#ffb703",
    "flat": "#bde0a8",
    "fc": "#f4a3a8",
    "out": "#b39ddb",
}

# (kind, title, shape): one block per layer, left to right; activations are written in the title.
ARCHITECTURES = {
    "mlp": [
        ("input", "input", "784"),
        ("fc", "Linear + ReLU", "512"),
        ("fc", "Linear + ReLU", "256"),
        ("fc", "Linear + ReLU", "128"),
        ("out", "Linear", "10"),
    ],
    "lenet5": [
        ("input", "input", "1x28x28"),
        ("conv", "Conv 3x3 + ReLU", "6x28x28"),
        ("pool", "MaxPool 2", "6x14x14"),
        ("conv", "Conv 3x3 + ReLU", "16x14x14"),
        ("pool", "MaxPool 2", "16x7x7"),
        ("flat", "flatten", "784"),
        ("fc", "Linear + ReLU", "120"),
        ("fc", "Linear + ReLU", "84"),
        ("out", "Linear", "10"),
    ],
    "cnn": [
        ("input", "input", "1x28x28"),
        ("conv", "Conv 3x3 + ReLU", "16x28x28"),
        ("pool", "MaxPool 2", "16x14x14"),
        ("conv", "Conv 3x3 + ReLU", "32x14x14"),
        ("pool", "MaxPool 2", "32x7x7"),
        ("conv", "Conv 3x3 + ReLU", "64x7x7"),
        ("pool", "MaxPool 2", "64x3x3"),
        ("flat", "flatten", "576"),
        ("fc", "Linear + ReLU", "128"),
        ("out", "Linear", "10"),
    ],
}


def draw_architecture(layers: list[tuple[str, str, str]], path: Path) -> None:
    """A left-to-right chain of labelled blocks, one per layer, joined by arrows."""
    width, gap = 1.5, 0.45
    figure, axis = plt.subplots(figsize=(len(layers) * (width + gap) * 0.9, 2.4))
    for index, (kind, title, shape) in enumerate(layers):
        left = index * (width + gap)
        axis.add_patch(
            FancyBboxPatch((left, 0), width, 1, boxstyle="round,pad=0.05", facecolor=COLOURS[kind], edgecolor="#333")
        )
        axis.text(left + width / 2, 0.62, title, ha="center", va="center", fontsize=8.5, wrap=True)
        axis.text(left + width / 2, 0.3, shape, ha="center", va="center", fontsize=10, weight="bold")
        if index:
            axis.annotate("", xy=(left - 0.05, 0.5), xytext=(left - gap + 0.05, 0.5),
                          arrowprops={"arrowstyle": "->", "color": "#333"})
    axis.set_xlim(-0.2, len(layers) * (width + gap) - gap + 0.2)
    axis.set_ylim(-0.2, 1.2)
    axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def save_grey_photo(path: Path, width: int = 256) -> None:
    """Grace Hopper's portrait from matplotlib's sample data, in grey levels, ``width`` pixels wide."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as photo:
        grey = photo.convert("L")
        grey = grey.resize((width, round(grey.height * width / grey.width)), Image.LANCZOS)
        grey.save(path, optimize=True)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, layers in ARCHITECTURES.items():
        draw_architecture(layers, OUT / f"{name}.png")
    save_grey_photo(OUT / "grace_hopper.png")
    print(f"images written to {OUT}")


if __name__ == "__main__":
    main()
