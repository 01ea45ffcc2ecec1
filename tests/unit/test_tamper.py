"""The tripwire's record of the grader's classes (``autograder/tamper.py``): an attribute added,
rebound or removed on any watched class is named; the classes as they were are not."""

from __future__ import annotations

import copy

import torch
from torch import fx, nn

from autograder import tamper


def test_an_unchanged_grader_shows_no_change():
    assert tamper.changes(tamper.snapshot()) == []


def test_every_kind_of_change_to_a_watched_class_is_named(monkeypatch):
    before = tamper.snapshot()
    monkeypatch.setattr(nn.Module, "__setattr__", object.__setattr__)
    monkeypatch.setattr(fx.GraphModule, "added_by_someone", print, raising=False)
    monkeypatch.setattr(fx.GraphModule, "data_kept", 1, raising=False)   # data, not behaviour: not watched
    monkeypatch.delattr(torch.Tensor, "backward")
    assert tamper.changes(before) == ["GraphModule.added_by_someone", "Module.__setattr__", "Tensor.backward"]
    monkeypatch.undo()
    assert tamper.changes(before) == []


def test_the_watched_classes_include_those_the_checks_run_on():
    watched = set(tamper.snapshot().classes)
    assert {nn.Module, nn.Linear, fx.GraphModule, fx.Graph, fx.Node, torch.Tensor, nn.Parameter,
            torch.export.ExportedProgram, torch.optim.SGD} <= watched


class FreshOptimizer(torch.optim.Optimizer):
    """Never instantiated before the test below."""

    def __init__(self, params) -> None:
        super().__init__(params, {})

    def step(self, closure=None):
        return None


class NeverCopied:
    """Never copied before the test below."""


def test_what_pytorch_and_python_set_on_first_use_is_not_a_change(monkeypatch):
    """An optimizer class's ``step``, wrapped at its first instance; ``__slotnames__``, cached by
    ``copyreg`` at a class's first copy. The same name written otherwise is a change."""
    monkeypatch.setattr(tamper, "WATCHED", (*tamper.WATCHED, __name__))
    before = tamper.snapshot()
    step = FreshOptimizer.step
    FreshOptimizer([nn.Parameter(torch.zeros(1))])
    copy.copy(NeverCopied())
    assert FreshOptimizer.step is not step and "__slotnames__" in vars(NeverCopied)
    assert tamper.changes(before) == []
    monkeypatch.setattr(FreshOptimizer, "step", torch.optim.Adam.step)
    assert tamper.changes(before) == ["FreshOptimizer.step"]


def test_a_function_a_module_holds_and_a_functions_code_are_watched(monkeypatch):
    before = tamper.snapshot()
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", torch.nn.functional.nll_loss)
    monkeypatch.setattr(torch.nn.init.kaiming_uniform_, "__code__", torch.nn.init.uniform_.__code__)
    assert tamper.changes(before) == ["kaiming_uniform_.__code__", "torch.nn.functional.cross_entropy"]
    monkeypatch.undo()
    assert tamper.changes(before) == []
