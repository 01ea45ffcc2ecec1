"""The grader's fixed choices: seeds, budgets, thresholds, limits. One place, documented in the README."""

from __future__ import annotations

from dataclasses import dataclass, field

from .sandbox.process import Limits


@dataclass(frozen=True)
class AccuracyBudget:
    """How the grader trains each exported model before measuring its test accuracy.

    Thresholds come from the reference solution trained this way over several seeds (see
    ``scripts/calibrate_accuracy.py``): a working model lands far above them, a model that does not
    learn stays near 0.1.
    """

    iterations: dict = field(default_factory=lambda: {"fc": 200, "lenet": 120, "cnn": 80})
    test_images: int = 2000          # the first ones of the test set: +-1% precision, a fifth of the time
    batch_size: int = 100
    lr: float = 0.002                # Adam
    thresholds: dict = field(default_factory=lambda: {"fc": 0.85, "lenet": 0.70, "cnn": 0.75})
    cpu_seconds: float = 300.0       # the grader's CPU time for training one model, at most


@dataclass(frozen=True)
class Settings:
    seed: int = 20261126             # the grader's own randomness (initialisation, inputs);
                                     # probes add the notebook's hash
    tolerance: float = 1e-4          # relative tolerance when comparing outputs, weights and losses
    accuracy: AccuracyBudget = field(default_factory=AccuracyBudget)
    limits: Limits = field(default_factory=Limits)
    submission_seconds: float = 600.0  # a batch's whole grading of one submission, sandbox and checks together
    # The grader's own work on one submission's artifacts (``autograder.bounds``), behind the costing of
    # each step: the growth of its address space while the checks run, and their CPU time together.
    grader_memory_bytes: int = 3 * 1024**3
    grader_cpu_seconds: float = 600.0
