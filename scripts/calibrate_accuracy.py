"""Where the accuracy thresholds come from: train the reference models with the grader's budget over
several seeds and print the spread next to the thresholds in ``autograder/settings.py``.

With ``--variants`` it also trains networks of the intended structure that students submit (other
activations, average pooling, narrow layers), to show where each lands against its threshold; with
``--fractions`` it does so at fractions of the budget, to see what a smaller budget would change.

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


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


# Networks of the intended structure that students submit: where each lands against its threshold.
VARIANTS: dict[str, dict[str, Callable[[], nn.Module]]] = {
    "fc": {"tanh": lambda: ReferenceFC(act=torch.tanh), "sigmoid": lambda: ReferenceFC(act=torch.sigmoid),
           "no activation": lambda: ReferenceFC(act=_identity), "widths 64-32-16": lambda: ReferenceFC((64, 32, 16)),
           "log_softmax out": lambda: nn.Sequential(ReferenceFC(), nn.LogSoftmax(1)),
           "softmax out": lambda: nn.Sequential(ReferenceFC(), nn.Softmax(1))},
    "lenet": {"tanh": lambda: ReferenceLeNet(act=torch.tanh), "sigmoid": lambda: ReferenceLeNet(act=torch.sigmoid),
              "average pooling": lambda: ReferenceLeNet(pool=F.avg_pool2d)},
    "cnn": {"tanh": lambda: ReferenceCNN(act=torch.tanh), "sigmoid": lambda: ReferenceCNN(act=torch.sigmoid),
            "average pooling": lambda: ReferenceCNN(pool=F.avg_pool2d),
            "filters 4-8-16": lambda: ReferenceCNN((4, 8, 16))},
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
                                                     budget.batch_size, budget.lr, seed, device,
                                                     budget.cpu_seconds).accuracy)
                seconds = (time.perf_counter() - started) / args.seeds
                print(f"{spec.name:>10} {name:>16}, {steps:3} steps: accuracy {min(accuracies):.3f} to "
                      f"{max(accuracies):.3f} over {args.seeds} seeds, threshold {threshold:.2f} "
                      f"(margin {min(accuracies) - threshold:+.3f}), {seconds:.1f} s per run", flush=True)


if __name__ == "__main__":
    main()
