"""What the hidden checks see of one submission: the sandbox's artifacts, loaded safely and cached."""

from __future__ import annotations

import copy
import time
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from helpers.data import load_mnist_pixels

from .accuracy_memo import AccuracyMemo, Measured, outcome_key
from .artifacts import ArtifactError, ExportedModel, graph_parts, load_tensors
from .assignment import MODELS, ModelSpec
from .bounds import CheckBudget, refused_memory
from .head_start import GraphLoad, HeadStart, load_graph
from .report import Report, load_report
from .sandbox.harness.contract import EXPORT_BATCH, OPTIMIZER_STEP, loop_trace_record
from .sandbox.harness.problems import second_batch
from .sandbox.process import Ending, SandboxRun
from .settings import Settings
from .submission import Answers, part_name
from .training import TRAINING_THREADS, over_budget, train_and_test


class CheckFailure(AssertionError):
    """A check cannot pass; the message is the reason shown to the student."""


@dataclass
class GradingContext:
    run: SandboxRun
    settings: Settings
    mnist: MnistTensors
    seed: int                                         # this submission's probe seed (the job's)
    budget: CheckBudget                               # the grader's CPU time left for these checks
    unreadable: str = ""                              # why the submission was not run at all
    answer_sources: Answers = field(default_factory=Answers)  # the answer cells' source, by grade id
    accuracies: dict = field(default_factory=dict)   # filled by the accuracy checks, for reports
    training_seconds: dict = field(default_factory=dict)  # each accuracy training's wall time
    accuracy_memo: AccuracyMemo = field(default_factory=AccuracyMemo)  # accuracies measured before, by graph
    reused: list = field(default_factory=list)        # the models whose accuracy came from ``accuracy_memo``
    layers: dict = field(default_factory=dict)       # filled by the shape checks, for reports
    _exported: dict = field(default_factory=dict)
    trainer: Executor | None = None                   # where the accuracy trainings run (``scoring.checking``)
    head: HeadStart | None = None                     # the graphs the grader loaded while the sandbox ran
    _trainings: dict[str, Future] = field(default_factory=dict)
    _trainings_started: bool = False
    memo: dict = field(default_factory=dict)          # what several checks derive from the same artifacts

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

    def failed_cell(self, cells: tuple[str, ...]) -> str | None:
        """The first of ``cells`` (grade ids) that raised, with its error: a likely cause when a later step
        could not use what those cells define."""
        phases = self.report.get("phases", {})
        for cell in cells:
            for index in range(len(self.answer_sources.get(cell, ())) or 1):
                error = phases.get(f"cell {part_name(cell, index)}", {}).get("error")
                if error:
                    return f"the answer cell {part_name(cell, index)} failed: {error.strip().splitlines()[-1]}"
        return None

    def require_phase(self, name: str, what: str, cells: tuple[str, ...] = ()) -> None:
        """Raise the step's own error, and where a cell it depends on raised too, that cell's (which may be
        the cause, or a stray line after a correct definition)."""
        error = self.phase_error(name)
        if error:
            cell = self.failed_cell(cells)
            raise CheckFailure(f"{what}: {error}" + (f" (before it, {cell})" if cell else ""))

    def section(self, key: str, phase: str, what: str, cells: tuple[str, ...] = ()) -> dict:
        """A section of the report, once its phase ran without error and it passed the schema."""
        self.require_phase(phase, what, cells)
        if key in self.report.problems:
            raise CheckFailure(f"{what}: {self.report.problems[key]}")
        return self.report.get(key, {})

    def ended_reason(self) -> str:
        if self.unreadable:
            return self.unreadable
        if self.run.ended == Ending.FINISHED:
            return "an earlier step failed"
        return f"the notebook's code {self.run.ended.value} before this step"

    def graph(self, spec: ModelSpec, key: str | None = None, what: str | None = None,
              batch: int = EXPORT_BATCH) -> ExportedModel:
        """The exported graph under ``key`` (default: the model's own), loaded once, shapes recomputed."""
        key, what = key or spec.key, what or spec.variable
        if key not in self._exported:
            try:
                self.require_phase(f"export {key}", f"{what} could not be run", spec.cells)
                load = GraphLoad(spec, batch)
                self._exported[key] = (self.head.graph(self.folder, key, load) if self.head
                                       else load_graph(graph_parts(self.folder, key), load))
            except CheckFailure as failure:
                self._exported[key] = failure
            except ArtifactError as error:
                refused_memory(error)   # noted here: the cached failure is raised later, without its cause
                self._exported[key] = CheckFailure(f"{what}: {error}")
        found = self._exported[key]
        if isinstance(found, CheckFailure):
            raise found
        return found

    def accuracy(self, model: str) -> float:
        """The test accuracy of ``model`` after the grader's training. The first call starts every
        model's training on ``trainer``, two at a time (``_start_trainings``); without a trainer, or
        where a model's training could not be started, it trains now. Raises ``CheckFailure`` with the
        reason it has none."""
        if self.trainer is not None and not self._trainings_started:
            self._trainings_started = True
            self._start_trainings(self.trainer)
        started = self._trainings.get(model)
        accuracy = (started.result() if started
                    else self._train(model, self._trainable(model), self.budget.left()))
        self.accuracies[model] = accuracy
        return accuracy

    def _start_trainings(self, pool: Executor) -> None:
        """Start the training of every model that can be trained, costliest first, so that the threads
        finish together. Everything but the training happens here, in the checks' thread: a training owns
        its module and writes only its own ``training_seconds``. Two at once are safe: each graph's
        compute and memory are bounded (``artifacts.COST_FACTOR``), far below the grader's; and each gets
        at most its share of the CPU time left to the checks when it begins, so that together they stay
        within it."""
        trainable = []
        for model, spec in MODELS.items():
            try:
                module = self._trainable(model)
            except Exception:  # noqa: BLE001 - the accuracy check meets the same failure when it asks, as its own
                continue
            trainable.append((self.graph(spec).cost.flops * self.settings.accuracy.iterations[model], model, module))
        for _, model, module in sorted(trainable, key=lambda entry: entry[0], reverse=True):
            self._trainings[model] = pool.submit(self._train_beside, model, module)

    def _train_beside(self, model: str, module: torch.nn.Module) -> float:
        return self._train(model, module, self.budget.left() / TRAINING_THREADS)

    def _trainable(self, model: str) -> torch.nn.Module:
        spec = MODELS[model]
        graph = self.graph(spec)
        problem = graph.structure_problem(spec.name, spec.convolutions, spec.linears)
        if problem:
            raise CheckFailure(f"{problem}, so its accuracy is not measured")
        try:
            return copy.deepcopy(graph.module())   # its own parameters: other checks' modules share the graph's
        except ArtifactError as error:
            raise CheckFailure(f"{spec.name}: {error}") from None

    def _train(self, model: str, module: torch.nn.Module, cpu_left: float) -> float:
        """Train ``module`` and measure its accuracy, unless this process measured it for the same graph
        before (``accuracy_memo``)."""
        spec, budget = MODELS[model], self.settings.accuracy
        device = torch.device("cpu")  # on every host: a GPU's arithmetic would change accuracies near a threshold
        settings = (spec.input, budget.iterations[model], budget.test_images, budget.batch_size, budget.lr,
                    self.settings.seed, device)
        cpu_seconds = min(budget.cpu_seconds, cpu_left)
        started = time.monotonic()
        try:
            key = outcome_key(module, tuple(map(str, settings)))
            known = self.accuracy_memo.get(key)
            if known is not None:
                if known.cpu_seconds > cpu_seconds:
                    raise over_budget(cpu_seconds)
                self.reused.append(model)
                return known.accuracy
            trained = train_and_test(module, self.mnist.train, self.mnist.test, *settings, cpu_seconds)
            self.accuracy_memo.keep(key, Measured(*trained))
            return trained.accuracy
        except Exception as error:  # noqa: BLE001 - a graph that cannot be trained earns no accuracy points
            raise CheckFailure(f"{spec.name} could not be trained ({type(error).__name__}: {error})"[:300]) from None
        finally:
            self.training_seconds[model] = time.monotonic() - started

    def second_batch(self) -> int:
        return second_batch(self.seed)

    def answer_parts(self, grade_id: str) -> list[str]:
        """The source of an answer cell (one part per cell that carries its id), read by the grader itself
        from the submitted file."""
        if self.unreadable:
            raise CheckFailure(self.unreadable)
        if grade_id not in self.answer_sources:
            raise CheckFailure(f"the answer cell {grade_id} is missing from the notebook")
        return self.answer_sources[grade_id]

    def tensors(self, record: str, what: str) -> dict[str, torch.Tensor]:
        try:
            return load_tensors(self.folder / record)
        except ArtifactError as error:
            raise CheckFailure(f"{what}: {error}") from None

    def optimizer_changes(self) -> dict[str, torch.Tensor]:
        return self.tensors(OPTIMIZER_STEP, "opt.step() left no result")

    def loop_trace(self, epochs: int) -> dict[str, torch.Tensor]:
        return self.tensors(loop_trace_record(epochs), "train_model left no record of its passes over the loaders")


@dataclass
class MnistTensors:
    """MNIST as whole uint8 tensors in the grader's process, loaded once (never given to the sandbox)."""

    def load(self) -> None:
        """Read both splits now (raises ``MNISTNotFoundError`` when the data is missing)."""
        self.train, self.test  # noqa: B018 - reading the properties loads them

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
