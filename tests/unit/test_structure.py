"""The structure the grader reads from an exported graph: the layers on the data's path from input to
output, whatever the spelling, and nothing that a decoy beside the path could add."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.artifacts import ExportedModel, GraphCost, graph_cost
from autograder.reference import REFERENCES


def exported(module: nn.Module, shape=(784,), batch=8) -> ExportedModel:
    program = torch.export.export(module.eval(), (torch.rand(batch, *shape),))
    return ExportedModel(program, batch, graph_cost(program), GraphCost(10**12, 10**12))


class Decoy(nn.Module):
    """The right layers, called in order, but only the first sees the input."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        seen = self.fc1(x)
        return self.fc4(self.fc3(self.fc2(seen * 0))) + seen[:, :10]


class Beside(nn.Module):
    """A layer computed but left aside."""

    def __init__(self) -> None:
        super().__init__()
        self.used, self.aside = nn.Linear(784, 10), nn.Linear(784, 10)

    def forward(self, x):
        self.aside(x)
        return self.used(x)


class Spelled(nn.Module):
    """The intended FC with activations and reshapes written in other common ways."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = x.to(self.fc1.weight.device, dtype=torch.float32).view(x.size(0), -1)
        x = self.drop(self.fc1(x).clamp(min=0))
        x = torch.maximum(self.fc2(x), torch.zeros(1))
        x = F.relu(self.fc3(x), inplace=True)
        return self.fc4(x)


@pytest.mark.parametrize("key, convolutions, linears", [("fc", 0, 4), ("lenet", 2, 3), ("cnn", 3, 2)])
def test_the_reference_networks_have_their_structure(key, convolutions, linears):
    shape = (784,) if key == "fc" else (1, 28, 28)
    graph = exported(REFERENCES[key](), shape)
    assert graph.structure_problem(key, convolutions, linears) is None
    assert graph.parameter_count(key) == sum(p.numel() for p in REFERENCES[key]().parameters())


def test_other_spellings_of_the_same_chain_keep_the_structure():
    graph = exported(Spelled())
    assert graph.structure_problem("FC", 0, 4) is None
    assert graph.parameter_count("FC") == 567434


@pytest.mark.parametrize("module, reason", [(Decoy(), "applies (add|mul)|combines"), (Beside(), "never reaches")])
def test_layers_off_the_data_s_path_are_no_structure(module, reason):
    problem = exported(module).structure_problem("FC", 0, 4)
    assert problem is not None and re.search(reason, problem), problem


def test_a_parameter_used_beside_the_path_does_not_count():
    class Padded(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(784, 10)
            self.padding = nn.Parameter(torch.zeros(1000))

        def forward(self, x):
            self.padding.sum()
            return self.fc(x)
    assert exported(Padded()).parameter_count("FC") == 7850
