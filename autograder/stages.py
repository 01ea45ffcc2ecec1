"""Where one grading's time went, by stage, so that a change to the grader shows what it moved
(``scripts/benchmark_grading.py`` prints it; results files carry it for staff).

The stages overlap: the grader starts (PyTorch, MNIST) while the sandbox runs, and the accuracy
trainings run beside the other checks. Each figure is that stage's own wall time."""

from __future__ import annotations

from .sandbox.process import SandboxRun

PROBES = ("criterion", "optimizer", "loop ")


def stage_seconds(run: SandboxRun, phases: dict, checks: float, trainings: dict[str, float]) -> dict[str, float]:
    """The sandbox's start (a fresh Python importing PyTorch), its cells, exports and probes (from the
    phases it reported), the grader's checks and each model's accuracy training. The phases' figures
    come from the sandbox, which could write any: each counts within the sandbox's own time, as measured
    by the grader, and they explain the time, never a score."""
    def total(prefixes: tuple[str, ...]) -> float:
        return sum(min(max(float(phase.get("seconds") or 0), 0.0), run.seconds)
                   for name, phase in phases.items() if name.startswith(prefixes))

    cells, exports, probes = total(("cell ",)), total(("export ",)), total(PROBES)
    stages = {"sandbox start": max(0.0, run.seconds - cells - exports - probes) if phases else run.seconds,
              "cells": cells, "exports": exports, "probes": probes, "checks": checks}
    stages.update({f"training {model}": seconds for model, seconds in trainings.items()})
    return {name: round(seconds, 2) for name, seconds in stages.items()}
