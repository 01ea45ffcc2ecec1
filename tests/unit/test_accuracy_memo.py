"""What a batch keeps of the accuracies it measured: the same graph, whoever's weights it came with,
gets one key; anything that could change the training's outcome gets another, and a module of a form
the key does not account for gets none (it is always trained)."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._export.serde.serialize import serialize

from autograder.accuracy_memo import MAX_KEPT, AccuracyMemo, Measured, outcome_key
from autograder.artifacts import GraphCost, load_exported
from autograder.bounds import CheckBudget
from autograder.context import CheckFailure, GradingContext
from autograder.sandbox.harness.contract import GRAPH_PARTS, graph_record
from autograder.settings import Settings
from autograder.training import Trained

UNLIMITED = GraphCost(10**15, 10**15)
NO_DATA = SimpleNamespace(train=None, test=None)   # what the replaced trainer is handed instead of MNIST
BUDGET = ("(784,)", "200", "2000", "100", "0.002", "20261126", "cpu")


class Net(nn.Module):
    def __init__(self, hidden: int = 32, name: str = "fc1", scale: float = 1.0, constant: float = 0.5) -> None:
        super().__init__()
        setattr(self, name, nn.Linear(784, hidden))
        self.out = nn.Linear(hidden, 10)
        self.name, self.scale, self.constant = name, scale, constant

    def forward(self, x):
        hidden = F.relu(getattr(self, self.name)(x)) * self.scale
        return self.out(hidden) * torch.tensor([self.constant] * 10)


class Tanh(Net):
    def forward(self, x):
        return self.out(torch.tanh(self.fc1(x))) * torch.tensor([self.constant] * 10)


def _graph_module(folder: Path, module: nn.Module, name: str = "fc") -> nn.Module:
    """``module`` as the grader runs it: exported as the harness does, screened and loaded."""
    folder.mkdir(exist_ok=True)
    artifact = serialize(torch.export.export(module.eval(), (torch.rand(100, 784),)))
    for part in GRAPH_PARTS:
        (folder / graph_record(name, part)).write_bytes(getattr(artifact, part))
    return load_exported(folder, name, UNLIMITED, (784,), 100).module()


def test_the_same_graph_with_other_weights_has_the_same_key(tmp_path):
    torch.manual_seed(0)
    first = _graph_module(tmp_path / "a", Net())
    torch.manual_seed(1)
    second = _graph_module(tmp_path / "b", Net())
    assert not torch.equal(first.fc1.weight, second.fc1.weight)
    assert outcome_key(first, BUDGET) == outcome_key(second, BUDGET) is not None


@pytest.mark.parametrize("other", [
    pytest.param(lambda: Net(hidden=33), id="a width"),
    pytest.param(lambda: Net(name="hidden"), id="a layer's name"),
    pytest.param(lambda: Net(scale=2.0), id="a literal in the code"),
    pytest.param(lambda: Net(constant=0.25), id="a constant tensor's values"),
    pytest.param(lambda: Tanh(), id="an activation"),
])
def test_anything_the_training_depends_on_changes_the_key(tmp_path, other):
    assert outcome_key(_graph_module(tmp_path / "a", Net()), BUDGET) != \
        outcome_key(_graph_module(tmp_path / "b", other()), BUDGET)


def test_the_budget_is_part_of_the_key(tmp_path):
    module = _graph_module(tmp_path, Net())
    assert outcome_key(module, BUDGET) != outcome_key(module, (*BUDGET[:1], "100", *BUDGET[2:]))


def test_a_module_of_another_form_has_no_key(tmp_path):
    module = _graph_module(tmp_path, Net())
    assert outcome_key(Net(), BUDGET) is None   # not a graph module at all
    module.fc1.register_forward_hook(lambda *args: None)
    assert outcome_key(module, BUDGET) is None
    module = _graph_module(tmp_path, Net())
    module.fc1.add_module("inner", nn.ReLU())
    assert outcome_key(module, BUDGET) is None


def test_the_memo_keeps_what_it_is_given_and_stays_bounded():
    memo = AccuracyMemo()
    memo.keep(None, Measured(0.9, 1.0))
    assert memo.get(None) is None
    for number in range(MAX_KEPT + 1):
        memo.keep(str(number), Measured(number / MAX_KEPT, 1.0))
    assert memo.get("0") is None and memo.get("1") == Measured(1 / MAX_KEPT, 1.0)
    assert memo.get(str(MAX_KEPT)) == Measured(1.0, 1.0)


def test_a_grading_reuses_a_measured_graph_within_its_own_cpu_time(tmp_path, monkeypatch):
    """The grader's trainer in place of the real one (this tier has no MNIST): the second module of the
    same graph is not trained and gets the first one's accuracy; a grading with less CPU time left than
    that training took loses the points as its own training would have."""
    trained = []

    def training(module, *args):
        trained.append(module)
        spin = time.thread_time() + 0.05
        while time.thread_time() < spin:
            pass
        return Trained(0.9, time.thread_time() - spin + 0.05)

    monkeypatch.setattr("autograder.context.train_and_test", training)
    graph = _graph_module(tmp_path, Net())
    context = GradingContext(None, Settings(), NO_DATA, 0, CheckBudget(600))  # type: ignore[arg-type]
    assert context._train("fc", copy.deepcopy(graph), 600) == 0.9 and len(trained) == 1 and context.reused == []
    assert context._train("fc", copy.deepcopy(graph), 600) == 0.9 and len(trained) == 1 and context.reused == ["fc"]
    with pytest.raises(CheckFailure, match="took more than 0.01 s of CPU time"):
        context._train("fc", copy.deepcopy(graph), 0.01)
    assert len(trained) == 1
    other = GradingContext(None, Settings(), NO_DATA, 0, CheckBudget(600))  # type: ignore[arg-type]
    assert other._train("fc", copy.deepcopy(graph), 600) == 0.9 and len(trained) == 2  # each grading its own memo
