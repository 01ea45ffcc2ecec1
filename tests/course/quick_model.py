"""A small MNIST model that the drawing-pad tests train, in a kernel or in-process: the same code."""

from __future__ import annotations

import torch
from torch import nn

# The kernel and the in-process tests train the same model: an MLP, one pass over MNIST on one thread,
# deterministic and about 97% accurate on the test set, in a second or two.
TRAIN_MODEL = """
import torch
from torch import nn
from helpers import load_mnist_pixels, pixels_to_float

torch.set_num_threads(1)
torch.manual_seed(0)
train_images, train_labels = load_mnist_pixels(train=True)
quick_model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
quick_opt = torch.optim.Adam(quick_model.parameters(), lr=2e-3)
for start in range(0, len(train_labels), 100):
    quick_loss = nn.functional.cross_entropy(quick_model(pixels_to_float(train_images[start:start + 100])),
                                             train_labels[start:start + 100])
    quick_opt.zero_grad()
    quick_loss.backward()
    quick_opt.step()
quick_model.eval()
"""


def train_quick_model() -> nn.Module:
    """Run ``TRAIN_MODEL`` here (one thread, restored afterwards) and return the trained model."""
    threads = torch.get_num_threads()
    namespace: dict = {}
    try:
        exec(TRAIN_MODEL, namespace)
    finally:
        torch.set_num_threads(threads)
    return namespace["quick_model"]
