"""Where the accuracy thresholds come from: train the reference models with the grader's budget over
several seeds and print the spread next to the thresholds in ``autograder/settings.py``.

With ``--variants`` it also trains networks of the intended structure that a student may well submit
(other activations, average pooling, narrow layers), which the accuracy check should still pass; with
``--fractions`` it does so at fractions of the budget, to see whether a smaller one would still separate
them from networks that do not learn.

    MNIST_ROOT=../shared/data python scripts/calibrate_accuracy.py [--seeds 10] [--variants] [--fractions 1,0.6]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from autograder.assignment import MODELS
from autograder.reference import REFERENCES, ReferenceCNN, ReferenceFC, ReferenceLeNet
from autograder.settings import Settings
from autograder.training import train_and_test
from helpers.data import load_mnist_pixels

Activation = Callable[[torch.Tensor], torch.Tensor]


class VariantFC(ReferenceFC):
    def __init__(self, act: Activation = F.relu, widths: tuple[int, int, int] = (512, 256, 128),
                 out: Activation | None = None) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, widths[0]), nn.Linear(widths[0], widths[1])
        self.fc3, self.fc4 = nn.Linear(widths[1], widths[2]), nn.Linear(widths[2], 10)
        self.act, self.out = act, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc4(self.act(self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))))
        return self.out(x) if self.out else x


class VariantLeNet(ReferenceLeNet):
    def __init__(self, act: Activation = F.relu, pool: Callable = F.max_pool2d) -> None:
        super().__init__()
        self.act, self.pool = act, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv1(x)), 2)
        x = self.pool(self.act(self.conv2(x)), 2).flatten(1)
        return self.fc3(self.act(self.fc2(self.act(self.fc1(x)))))


class VariantCNN(ReferenceCNN):
    def __init__(self, filters: tuple[int, int, int] = (16, 32, 64), act: Activation = F.relu,
                 pool: Callable = F.max_pool2d) -> None:
        super().__init__(filters)
        self.act, self.pool = act, pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2, self.conv3):
            x = self.pool(self.act(conv(x)), 2)
        return self.fc2(self.act(self.fc1(x.flatten(1))))


VARIANTS: dict[str, dict[str, Callable[[], nn.Module]]] = {
    "fc": {"tanh": lambda: VariantFC(torch.tanh), "sigmoid": lambda: VariantFC(torch.sigmoid),
           "no activation": lambda: VariantFC(lambda x: x), "widths 64-32-16": lambda: VariantFC(widths=(64, 32, 16)),
           "log_softmax out": lambda: VariantFC(out=lambda y: F.log_softmax(y, 1)),
           "softmax out": lambda: VariantFC(out=lambda y: F.softmax(y, 1))},
    "lenet": {"tanh": lambda: VariantLeNet(torch.tanh), "sigmoid": lambda: VariantLeNet(torch.sigmoid),
              "average pooling": lambda: VariantLeNet(pool=F.avg_pool2d)},
    "cnn": {"tanh": lambda: VariantCNN(act=torch.tanh), "sigmoid": lambda: VariantCNN(act=torch.sigmoid),
            "average pooling": lambda: VariantCNN(pool=F.avg_pool2d), "filters 4-8-16": lambda: VariantCNN((4, 8, 16))},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--variants", action="store_true", help="also train variants a student may submit")
    parser.add_argument("--fractions", default="1", help="fractions of the budget's steps, comma-separated")
    args = parser.parse_args()
    budget = Settings().accuracy
    fractions = [float(fraction) for fraction in args.fractions.split(",")]
    train, test = load_mnist_pixels(train=True), load_mnist_pixels(train=False)
    device = torch.device("cpu")   # as the grader trains: a GPU's arithmetic would move the figures
    print(f"budget: Adam lr {budget.lr}, batch {budget.batch_size}, iterations {budget.iterations}; device {device}")
    for key, spec in MODELS.items():
        threshold = budget.thresholds[key]
        networks = {"reference": REFERENCES[key], **(VARIANTS[key] if args.variants else {})}
        for name, network in networks.items():
            for fraction in fractions:
                steps = max(1, round(budget.iterations[key] * fraction))
                accuracies, started = [], time.perf_counter()
                for seed in range(args.seeds):
                    accuracies.append(train_and_test(network(), train, test, spec.input, steps, budget.test_images,
                                                     budget.batch_size, budget.lr, seed, device, budget.cpu_seconds))
                seconds = (time.perf_counter() - started) / args.seeds
                print(f"{spec.name:>10} {name:>16}, {steps:3} steps: accuracy {min(accuracies):.3f} to "
                      f"{max(accuracies):.3f} over {args.seeds} seeds, threshold {threshold:.2f} "
                      f"(margin {min(accuracies) - threshold:+.3f}), {seconds:.1f} s per run", flush=True)


if __name__ == "__main__":
    main()
