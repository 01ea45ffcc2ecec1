"""The record the grader rebuilds before loading a graph (``autograder/graph_record.py``) keeps every
form of an honest model: each of these, written the ways students write them, loads and computes
exactly what the model computes. (Forged records: ``test_boundary_pieces.py``.)"""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch._export.serde.serialize import serialize
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.fx.passes.fake_tensor_prop import FakeTensorProp

from autograder.artifacts import ArtifactError, GraphCost, load_exported
from autograder.sandbox.harness.contract import GRAPH_PARTS, graph_record

UNLIMITED = GraphCost(10**15, 10**15)
IMAGE = (1, 28, 28)


class Functional(nn.Module):
    """Pooling with its stride spelled out, a view by batch size, leaky ReLU, log-softmax."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, padding=2)
        self.fc = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        x = F.max_pool2d(F.leaky_relu(self.conv(x), 0.1), 2, 2)
        return F.log_softmax(self.fc(x.view(x.size(0), -1)), dim=1)


class Strings(nn.Module):
    """Arguments that are words: ``padding="same"``, GELU's tanh approximation, floor division."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding="same")
        self.fc = nn.Linear(4 * 7 * 7, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.gelu(self.conv(x), approximate="tanh"), 4)
        return self.fc(torch.flatten(x, 1)) / torch.div(torch.tensor(7.0), 2, rounding_mode="floor")


class Constants(nn.Module):
    """A clamp, a maximum against a constant tensor, sigmoid, ELU, adaptive pooling, a reshape."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 4 * 4, 10)

    def forward(self, x):
        x = torch.maximum(self.conv(x).clamp(min=-1.0), torch.zeros(1))
        x = F.adaptive_avg_pool2d(torch.sigmoid(F.elu(x)), (4, 4))
        return self.fc(x.reshape(-1, 2 * 4 * 4))


class Normalised(nn.Module):
    """Batch normalisation (refused later, by the structure check, not by the loader) and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                      nn.Flatten(), nn.Dropout(0.25))
        self.fc = nn.Linear(3 * 13 * 13, 10)

    def forward(self, x):
        return self.fc(F.dropout(self.features(x), p=0.5, training=self.training))


class Flat(nn.Module):
    """The perceptron as a Sequential on flat input, softmax over the last dimension."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 32), nn.Tanh(), nn.Linear(32, 10), nn.Softmax(dim=-1))

    def forward(self, x):
        return self.net(x)


class Assorted(nn.Module):
    """Layers in a ModuleList under a private name, a non-ASCII name, a clamp at minus infinity, a dtype
    round trip, and a split joined again."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks = nn.ModuleList([nn.Linear(784, 40), nn.Linear(40, 10)])
        self.schicht_ä = nn.Linear(10, 10)

    def forward(self, x):
        x = self._blocks[0](x).clamp(min=float("-inf"), max=50.0).to(torch.float64).to(torch.float32)
        x = torch.cat(torch.split(torch.relu(x), 8, dim=1), dim=1)
        return self.schicht_ä(self._blocks[1](x))


FORMS = {"functional": (Functional, IMAGE), "words": (Strings, IMAGE), "constants": (Constants, IMAGE),
         "normalised": (Normalised, IMAGE), "flat": (Flat, (784,)), "assorted": (Assorted, (784,))}


def _graph(folder, model: nn.Module, shape: tuple[int, ...]):
    """``model`` exported as the harness does and loaded as the grader does."""
    artifact = serialize(torch.export.export(model, (torch.rand(100, *shape),)))
    for part in GRAPH_PARTS:
        (folder / graph_record("fc", part)).write_bytes(getattr(artifact, part))
    return load_exported(folder, "fc", UNLIMITED, shape, 100)


def _load(folder, model: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    return _graph(folder, model, shape).module()


@pytest.mark.parametrize("form", list(FORMS))
def test_an_honest_model_loads_and_computes_what_it_computes(tmp_path, form):
    make, shape = FORMS[form]
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    loaded = _load(tmp_path, model, shape)
    x = torch.rand(100, *shape)
    assert torch.equal(loaded(x), model(x))


class DropoutLeftOn(nn.Module):
    """``F.dropout`` without ``training=self.training``: on even when the model is evaluated."""

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        self.fc, self.p = nn.Linear(784, 10), p

    def forward(self, x):
        return self.fc(F.dropout(x, self.p))


def test_a_dropout_left_on_is_switched_off_and_named(tmp_path):
    """The graph loads with the dropout off (no random numbers: the same output twice, the model's own
    without dropout), and says it had one on, for the function check."""
    model = DropoutLeftOn().eval()
    graph = _graph(tmp_path, model, (784,))
    x = torch.rand(100, 784)
    assert graph.dropout_left_on and torch.equal(graph.module()(x), model.fc(x))
    assert not _graph(tmp_path, Normalised().eval(), IMAGE).dropout_left_on
    assert not _graph(tmp_path, DropoutLeftOn(0.0).eval(), (784,)).dropout_left_on   # p = 0 changes nothing


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x), x


def test_a_model_that_returns_more_than_one_tensor_is_refused_with_the_reason(tmp_path):
    with pytest.raises(ArtifactError, match="exactly one tensor|one tensor and return one tensor"):
        _load(tmp_path, Pair().eval(), (784,))


def _extra_argument(document: dict, argument: dict) -> None:
    document["graph_module"]["graph"]["nodes"][0]["inputs"].append({"name": "extra", "arg": argument, "kind": 2})


MALFORMED = {
    "no call of the whole model": lambda document: document["graph_module"].update(module_call_graph=[]),
    "a float beyond any double": lambda document: _extra_argument(document, {"as_float": 10**400}),
    "a list for a name": lambda document: document["graph_module"]["graph"]["nodes"][0].update(name=["x"]),
    "not an object at all": lambda document: document.clear() or document.update({"graph_module": 1}),
}


@pytest.mark.parametrize("malformed", list(MALFORMED))
def test_a_malformed_record_is_refused_with_a_reason(tmp_path, malformed):
    artifact = serialize(torch.export.export(Flat().eval(), (torch.rand(100, 784),)))
    document = json.loads(artifact.exported_program)
    MALFORMED[malformed](document)
    for part in GRAPH_PARTS:
        data = json.dumps(document).encode() if part == "exported_program" else getattr(artifact, part)
        (tmp_path / graph_record("fc", part)).write_bytes(data)
    with pytest.raises(ArtifactError):
        load_exported(tmp_path, "fc", UNLIMITED, (784,), 100)


# ---- a forged graph that writes into what the grader reads after running it ----

aten = torch.ops.aten


def _detached(graph, value):
    return graph.call_function(aten.detach.default, (value,))


WRITES = {
    "a weight zeroed through detach": lambda g, p, h: g.call_function(
        aten.mul_.Scalar, (_detached(g, p["p_net_2_weight"]), 0.0)),
    "a weight zeroed through an unsafe view": lambda g, p, h: g.call_function(
        aten.mul_.Scalar, (g.call_function(aten._unsafe_view.default, (p["p_net_2_weight"], [320])), 0.0)),
    "a bias as an out= argument": lambda g, p, h: g.call_function(
        aten.mul.Scalar_out, (p["p_net_2_bias"], 0.0), {"out": _detached(g, p["p_net_2_bias"])}),
    "the input scaled in place": lambda g, p, h: g.call_function(aten.mul_.Scalar, (p["x"], 0.0)),
    "a bias as the running mean of a batch norm in training mode": lambda g, p, h: g.call_function(
        aten.batch_norm.default, (h, None, None, _detached(g, p["p_net_0_bias"]), None, True, 1.0, 1e-5, False)),
    "a bias as the running variance of an instance norm using the input's statistics": lambda g, p, h: g.call_function(
        aten.instance_norm.default,
        (g.call_function(aten.unsqueeze.default, (g.call_function(aten.t.default, (h,)), 0)), None, None, None, _detached(g, p["p_net_0_bias"]),
         True, 1.0, 1e-5, False)),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_graph_that_writes_into_its_state_or_input_is_refused(tmp_path, write):
    """A record may add nodes that torch.export would have declared as mutations: undeclared, they would
    let the graph change the parameters the grader compares it with, or the grader's own input."""
    program = torch.export.export(Flat().eval(), (torch.rand(100, 784),))
    graph = program.graph
    placeholders = {node.name: node for node in graph.nodes if node.op == "placeholder"}
    hidden = next(node for node in graph.nodes if node.op == "call_function")   # the first layer's output
    with graph.inserting_before(hidden.next):
        WRITES[write](graph, placeholders, hidden)
    program.graph_module.recompile()
    tensors = [program.state_dict.get(spec.target, torch.rand(100, 784)).detach()
               for spec in program.graph_signature.input_specs]
    FakeTensorProp(program.graph_module, FakeTensorMode(allow_non_fake_inputs=True)).propagate(*tensors)
    artifact = serialize(program)
    for part in GRAPH_PARTS:
        (tmp_path / graph_record("fc", part)).write_bytes(getattr(artifact, part))
    with pytest.raises(ArtifactError, match="writes into (p_net_|x)"):
        load_exported(tmp_path, "fc", UNLIMITED, (784,), 100)
