"""Where the accuracy thresholds come from: train the reference models with the grader's budget over
several seeds and print the spread next to the thresholds in ``autograder/settings.py``.

    MNIST_ROOT=../shared/data python scripts/calibrate_accuracy.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import time

import torch

from autograder.assignment import MODELS
from autograder.reference import REFERENCES
from autograder.settings import Settings
from autograder.training import train_and_test
from helpers.data import load_mnist_pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    budget = Settings().accuracy
    train, test = load_mnist_pixels(train=True), load_mnist_pixels(train=False)
    device = torch.device("cpu")   # as the grader trains: a GPU's arithmetic would move the figures
    print(f"budget: Adam lr {budget.lr}, batch {budget.batch_size}, iterations {budget.iterations}; device {device}")
    for key, spec in MODELS.items():
        accuracies, started = [], time.perf_counter()
        for seed in range(args.seeds):
            accuracies.append(train_and_test(REFERENCES[key](), train, test, spec.input, budget.iterations[key],
                                             budget.test_images, budget.batch_size, budget.lr, seed, device,
                                             budget.cpu_seconds))
        seconds = (time.perf_counter() - started) / args.seeds
        threshold = budget.thresholds[key]
        print(f"{spec.name:>10}: accuracy {min(accuracies):.3f} to {max(accuracies):.3f} over {args.seeds} seeds, "
              f"threshold {threshold:.2f} (margin {min(accuracies) - threshold:.3f}), {seconds:.1f} s per run")


if __name__ == "__main__":
    main()
