"""What the hidden checks see of one submission: the sandbox's artifacts, loaded safely and cached."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from helpers.data import load_mnist_pixels

from .artifacts import ArtifactError, ExportedModel, GraphCost, load_exported, load_tensors
from .assignment import MODELS, REFERENCE_COST
from .report import Report, load_report
from .sandbox.process import SandboxRun
from .settings import Settings


class CheckFailure(AssertionError):
    """A check cannot pass; the message is the reason shown to the student."""


@dataclass
class GradingContext:
    run: SandboxRun
    settings: Settings
    mnist: "MnistTensors"
    unreadable: str = ""                              # why the submission was not run at all
    answer_sources: dict = field(default_factory=dict)  # the answer cells' source, by grade id
    accuracies: dict = field(default_factory=dict)   # filled by the accuracy checks, for reports
    layers: dict = field(default_factory=dict)       # filled by the shape checks, for reports
    _exported: dict = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.run.folder

    @cached_property
    def report(self) -> Report:
        return load_report(self.folder / "report.json")

    def phase_error(self, name: str) -> str | None:
        if "phases" in self.report.problems:
            return self.report.problems["phases"]
        phase = self.report.get("phases", {}).get(name)
        if phase is None:
            return f"not run ({self.ended_reason()})"
        return phase.get("error")

    def section(self, key: str, phase: str, what: str) -> dict:
        """A section of the report, once its phase ran without error and it passed the schema."""
        self.require_phase(phase, what)
        if key in self.report.problems:
            raise CheckFailure(f"{what}: {self.report.problems[key]}")
        return self.report.get(key, {})

    def ended_reason(self) -> str:
        if self.unreadable:
            return self.unreadable
        if self.run.ended == "finished":
            return "an earlier step failed"
        return f"the notebook's code {self.run.ended} before this step"

    def require_phase(self, name: str, what: str) -> None:
        error = self.phase_error(name)
        if error:
            raise CheckFailure(f"{what}: {error}")

    def parameters(self, key: str, variable: str) -> dict[str, torch.Tensor]:
        """The tensors saved before the model's forward pass ever ran (so a broken forward keeps them)."""
        try:
            return load_tensors(self.folder / f"{key}.pt")
        except ArtifactError as error:
            phase = f"build {key}" if key.startswith("cnn_") else f"export {key}"
            raise CheckFailure(f"could not build {variable}: {self.phase_error(phase) or error}") from None

    def exported(self, key: str, variable: str) -> ExportedModel:
        if key not in self._exported:
            self.require_phase(f"export {key}", f"{variable} could not be run")
            try:
                budget = GraphCost(*REFERENCE_COST[key])
                self._exported[key] = load_exported(self.folder, key, budget, MODELS[key]["input"],
                                                    self.settings.export_batch)
            except ArtifactError as error:
                self._exported[key] = CheckFailure(f"{variable}: {error}")
        found = self._exported[key]
        if isinstance(found, CheckFailure):
            raise found
        return found

    def answer_source(self, grade_id: str) -> str:
        """The source of an answer cell, read by the grader itself from the submitted file."""
        if self.unreadable:
            raise CheckFailure(self.unreadable)
        if grade_id not in self.answer_sources:
            raise CheckFailure(f"the answer cell {grade_id} is missing from the notebook")
        return self.answer_sources[grade_id]

    @property
    def criterion(self) -> dict:
        return self.section("criterion", "criterion", "criterion could not be used")

    @property
    def optimizer(self) -> dict:
        return self.section("optimizer", "optimizer", "opt could not be used")

    def optimizer_step(self) -> dict[str, torch.Tensor]:
        try:
            return load_tensors(self.folder / "optimizer_step.pt")
        except ArtifactError as error:
            raise CheckFailure(f"opt.step() left no result: {error}") from None

    def loop(self, epochs: int) -> dict:
        what = f"train_model(..., epochs={epochs}) failed"
        run = self.section("loop", f"loop {epochs}", what).get(str(epochs))
        if run is None:
            raise CheckFailure(f"{what}: the sandbox reported no record of it")
        return run

    def loop_weights(self, epochs: int) -> dict[str, torch.Tensor]:
        self.loop(epochs)
        try:
            return load_tensors(self.folder / f"loop_{epochs}.pt")
        except ArtifactError as error:
            raise CheckFailure(f"train_model left no weights: {error}") from None


@dataclass
class MnistTensors:
    """MNIST as whole uint8 tensors in the grader's process, loaded once (never given to the sandbox)."""

    def load(self) -> None:
        """Read both splits now (raises ``MNISTNotFoundError`` when the data is missing)."""
        self.train, self.test

    @cached_property
    def train(self) -> tuple[torch.Tensor, torch.Tensor]:
        return load_mnist_pixels(train=True)

    @cached_property
    def test(self) -> tuple[torch.Tensor, torch.Tensor]:
        return load_mnist_pixels(train=False)


def close(a: torch.Tensor, b: torch.Tensor, tolerance: float) -> bool:
    """Same shape and equal within ``tolerance`` relative to the larger magnitude (NaNs never equal)."""
    if a.shape != b.shape or not torch.isfinite(a).all():
        return False
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    return float((a - b).abs().max()) <= tolerance * scale if a.numel() else True
