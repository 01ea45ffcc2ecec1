"""The structure the grader reads from an exported graph: the layers on the data's path from input to
output, whatever the spelling, and nothing that a decoy beside the path could add."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from autograder.artifacts import ExportedModel, GraphCost, graph_cost
from autograder.context import close
from autograder.reference import REFERENCES, intended_forward
from autograder.training import reinitialise, reveal
from autograder.variants import layer_table, with_filters


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


class OtherActivations(nn.Module):
    """The intended FC's layers with sigmoid activations, returning log-probabilities."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = torch.sigmoid(self.fc2(torch.sigmoid(self.fc1(x))))
        return F.log_softmax(self.fc4(torch.tanh(self.fc3(x))), dim=1)


def test_other_activations_keep_the_structure_and_the_count():
    """An activation is the function check's business: the layers, their count and shapes are right."""
    graph = exported(OtherActivations())
    assert graph.structure_problem("FC", 0, 4) is None
    assert graph.parameter_count("FC") == 567434


class HandWritten(nn.Module):
    """The intended FC with its ReLUs written by hand, each in another way."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = self.fc1(x)
        x = x * (x > 0)
        x = self.fc2(x)
        x = torch.where(x > 0, x, 0.0)
        x = self.fc3(x)
        x = (torch.max(x, torch.zeros_like(x)) + (x + x.abs()) / 2) / 2
        return self.fc4(x)


def test_an_activation_written_by_hand_is_one_step_of_the_chain():
    """Parameter-free operations value by value on one value of the path: the function check's business."""
    graph = exported(HandWritten())
    assert graph.structure_problem("FC", 0, 4) is None
    assert graph.parameter_count("FC") == 567434
    student, x = graph.program.module(), torch.randn(8, 784)
    reveal(student, 1)
    with torch.no_grad():
        assert close(student(x), intended_forward(graph.affine_layers(), dict(student.state_dict()), x), 1e-4)


def test_an_activation_written_by_hand_with_a_parameter_is_named():
    class Slope(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 32), nn.Linear(32, 10)
            self.slope = nn.Parameter(torch.ones(1))

        def forward(self, x):
            x = self.fc1(x)
            return self.fc2(torch.where(x > 0, x, self.slope * x))

    problem = exported(Slope()).structure_problem("FC", 0, 2)
    assert problem is not None and "slope" in problem, problem


class PaddedFC(nn.Module):
    """A first layer of 504 units padded to the intended count with layers that the grader's initialisation
    would make identities: a batch norm without epsilon and ``torch.maximum`` with a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 504), nn.Linear(504, 256)
        self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)
        self.norm = nn.BatchNorm1d(256, eps=0.0)
        self.bias = nn.Parameter(torch.zeros(128))

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.norm(self.fc2(x)))
        return self.fc4(torch.maximum(self.fc3(x), self.bias))


def test_parameters_outside_the_layers_are_a_wrong_structure_that_names_them():
    graph = exported(PaddedFC())
    problem = graph.structure_problem("FC", 0, 4)
    assert problem is not None and "normalisation layer (batch_norm" in problem and "norm.weight" in problem \
        and "maximum with bias" in problem, problem
    layers = sum(p.numel() for name, p in PaddedFC().named_parameters() if name.startswith("fc"))
    assert graph.parameter_count("FC") == layers   # the layers' own parameters only


class NormalisedCNN(nn.Module):
    """The reference CNN with a batch norm that has no parameters at all."""

    def __init__(self) -> None:
        super().__init__()
        self.net = REFERENCES["cnn"]()
        self.norm = nn.BatchNorm2d(16, affine=False)

    def forward(self, x):
        net = self.net
        x = F.max_pool2d(F.relu(self.norm(net.conv1(x))), 2)
        for conv in (net.conv2, net.conv3):
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return net.fc2(F.relu(net.fc1(x.flatten(1))))


def test_a_normalisation_without_parameters_is_still_a_layer_the_assignment_does_not_ask_for():
    graph = exported(NormalisedCNN(), (1, 28, 28))
    assert graph.parameter_count("CNN") == 98442
    problem = graph.structure_problem("CNN", 3, 2)
    assert problem is not None and "normalisation layer (batch_norm" in problem, problem


def test_an_extra_bias_on_the_path_is_named():
    class ExtraBias(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(784, 10)
            self.shift = nn.Parameter(torch.zeros(10))

        def forward(self, x):
            return self.fc(x) + self.shift

    problem = exported(ExtraBias()).structure_problem("FC", 0, 1)
    assert problem is not None and "add with shift" in problem, problem


@pytest.mark.parametrize("module, shape", [(PaddedFC(), (784,)), (NormalisedCNN(), (1, 28, 28))])
def test_the_function_is_compared_under_weights_that_show_every_layer(module, shape):
    """Under the grader's initialisation these layers are identities; under ``reveal`` they are not."""
    graph = exported(module, shape)
    student, x = graph.program.module(), torch.randn(8, *shape)

    def differs() -> bool:
        state = dict(student.state_dict())
        with torch.no_grad():
            return not close(student(x), intended_forward(graph.affine_layers(), state, x), 1e-4)

    reinitialise(student, 1)
    assert not differs()
    reveal(student, 1)
    assert differs()


class HiddenFromFilters(nn.Module):
    """The reference CNN whose hidden layer is sized from ``filters``, which the notebook fixes at 128."""

    def __init__(self, filters=(16, 32, 64)) -> None:
        super().__init__()
        self.net = REFERENCES["cnn"](filters)
        self.net.fc1, self.net.fc2 = nn.Linear(filters[2] * 9, 2 * filters[2]), nn.Linear(2 * filters[2], 10)

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("network, right", [(REFERENCES["cnn"], True), (HiddenFromFilters, False)])
def test_every_layer_of_a_filters_variant_is_compared_with_the_notebook_s_rule(network, right):
    default = layer_table(exported(network(), (1, 28, 28)))
    variant = layer_table(exported(network((8, 16, 32)), (1, 28, 28)))
    assert (variant == with_filters(default, (8, 16, 32))) is right
    assert variant[:3] == with_filters(default, (8, 16, 32))[:3]   # the convolutions are right in both


class Scratch(nn.Module):
    """One layer, and a parameter the forward pass leaves unused, until a forged record uses it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)
        self.hidden = nn.Parameter(torch.zeros(784, 10))

    def forward(self, x):
        return self.fc(x)


def _with_scratch_write(source: str):
    """``Scratch`` exported, then a scratch tensor written in place and added to the output, as a forged
    record may have it: the output reads the scratch tensor through the node that made it, not the write."""
    graph = exported(Scratch())
    g = graph.program.graph
    nodes = {node.name: node for node in g.nodes}
    out = next(node for node in g.nodes if node.op == "output")
    aten = torch.ops.aten
    with g.inserting_before(out):
        scratch = g.call_function(aten.zeros.default, ([8, 10],))
        if source == "a computation with a parameter of its own":
            brought = g.call_function(aten.mm.default, (nodes["x"], nodes["p_hidden"]))
            g.call_function(aten.add_.Tensor, (scratch, brought))
            result = g.call_function(aten.add.Tensor, (nodes["linear"], scratch))
        else:
            column_sums = g.call_function(aten.sum.dim_IntList, (nodes["p_hidden"], [0]))
            g.call_function(aten.add_.Tensor, (nodes["linear"], column_sums))
            result = nodes["linear"]
    out.args = ((result,),)
    graph.program.graph_module.recompile()
    return graph


@pytest.mark.parametrize("source", ["a computation with a parameter of its own", "a parameter added in place"])
def test_a_write_in_place_cannot_carry_what_the_path_does_not_show(source):
    problem = _with_scratch_write(source).structure_problem("FC", 0, 1)
    assert problem is not None and "in place" in problem, problem
