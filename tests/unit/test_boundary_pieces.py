"""The pieces of the sandbox boundary on their own, without a sandbox: what crosses it is bounded and
validated (the report, the channel, exported graphs and their cost)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch._export.serde.serialize import serialize

from autograder import graph_record
from autograder.artifacts import ArtifactError, GraphCost, graph_cost, load_exported, load_tensors
from autograder.assignment import MODELS
from autograder.reference import REFERENCES
from autograder.report import parse_report
from autograder.sandbox.channel import ChannelReader
from autograder.sandbox.isolation import PROJECT, bubblewrap_argv
from autograder.sandbox.process import HARNESS, HELPERS
from autograder.training import reinitialise

VALID = {"phases": {"answers": {"output": "", "output_dropped": 0, "seconds": 0.1}},
         "criterion": {"type": "x.CrossEntropyLoss", "value": 2.3},
         "loop": {"1": {"test_acc": [0.5]}},
         "complete": True}


def test_a_valid_report_passes_whole():
    report = parse_report(json.dumps(VALID).encode())
    assert report.sections == VALID and report.problems == {}


@pytest.mark.parametrize("raw", [b"[1, 2, 3]", b"[" * 100_000 + b"]" * 100_000, b"{" * 50_000, b"not json",
                                 b'"just a string"', b"x" * (9 * 1024**2)])
def test_a_report_that_is_no_object_drops_every_section(raw):
    report = parse_report(raw)
    assert report.sections == {} and set(report.problems) >= {"phases", "criterion", "loop"}


def test_one_malformed_section_costs_only_that_section():
    bad = dict(VALID, loop={"1": {"test_acc": [[[[1]]]], "extra": None}},
               criterion={"type": {"nested": [1] * 5}})
    report = parse_report(json.dumps(bad).encode())
    assert set(report.problems) == {"loop", "criterion"}
    assert report.sections["phases"] == VALID["phases"] and report.sections["complete"] is True


def _records(*chunks: bytes, folder: Path) -> ChannelReader:
    read_end, write_end = os.pipe()
    reader = ChannelReader(read_end, folder)
    for chunk in chunks:
        os.write(write_end, chunk)
    os.close(write_end)
    reader.finish()
    return reader


def test_channel_keeps_good_records_and_stops_at_a_bad_one(tmp_path):
    reader = _records(b'{"name": "report.json", "size": 2}\n{}', b'{"name": "../escape.json", "size": 1}\nx',
                      b'{"name": "fc.pt", "size": 1}\nx', folder=tmp_path)
    assert reader.received == {"report.json"} and "name" in reader.problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.parametrize("header", [b'{"name": "fc.pt", "size": 99999999999}\n', b'{"name": "fc.pt"}\n',
                                    b"[" * 1000 + b"\n", b'{"name": "fc.pt", "size": 5}\nab'])
def test_channel_refuses_oversized_or_malformed_records(tmp_path, header):
    reader = _records(header, folder=tmp_path)
    assert reader.received == set() and reader.problem


def _export_to(folder: Path, module: nn.Module, shape=(100, 784), key="fc") -> Path:
    artifact = serialize(torch.export.export(module.eval(), (torch.rand(*shape),)))
    for part in ("exported_program", "state_dict", "constants", "example_inputs"):
        (folder / f"{key}.{part}").write_bytes(getattr(artifact, part))
    return folder


class WithBuffer(nn.Module):
    def __init__(self, persistent: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)
        self.register_buffer("table", torch.arange(2000.0), persistent=persistent)

    def forward(self, x):
        return self.fc(x) + 0 * self.table[:10]


class WithConstant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x) + 0 * torch.tensor([float(i) for i in range(500)])[:10]


class Expanding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.unsqueeze(0).expand(64, -1, -1).mean(0))


class Normalised(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc, self.norm = nn.Linear(784, 10), nn.BatchNorm1d(10)

    def forward(self, x):
        return self.norm(self.fc(x))


BUDGET = GraphCost(*MODELS["fc"].reference_cost)
UNLIMITED = GraphCost(10**15, 10**15)


@pytest.mark.parametrize("model", list(REFERENCES))
def test_reference_costs_are_measured_not_guessed(tmp_path, model):
    shape = (784,) if model == "fc" else (1, 28, 28)
    loaded = load_exported(_export_to(tmp_path, REFERENCES[model](), (100, *shape), model), model, UNLIMITED, shape, 100)
    assert graph_cost(loaded.program) == GraphCost(*MODELS[model].reference_cost)


@pytest.mark.parametrize("module, reason", [
    (WithBuffer(True), "buffer 'table'"), (WithBuffer(False), "buffer 'table'|constant values"),
    (WithConstant(), "constant values"), (Expanding(), "costs"),
])
def test_graphs_carrying_state_or_cost_are_refused(tmp_path, module, reason):
    with pytest.raises(ArtifactError, match=reason):
        _runnable(_export_to(tmp_path, module), BUDGET)


def _runnable(folder, budget):
    """The graph as the grader would run it: loaded, and refused when too costly to run."""
    return load_exported(folder, "fc", budget, (784,), 100).module()


def test_batch_norm_statistics_are_accepted_and_reset(tmp_path):
    module = Normalised()
    with torch.no_grad():
        module.norm.running_mean.fill_(5.0)
        module.fc.weight.fill_(3.0)
    loaded = load_exported(_export_to(tmp_path, module), "fc", BUDGET, (784,), 100).module()
    reinitialise(loaded, seed=1)
    state = loaded.state_dict()
    assert torch.equal(state["norm.running_mean"], torch.zeros(10)) and torch.equal(state["norm.running_var"], torch.ones(10))
    assert torch.equal(state["norm.weight"], torch.ones(10)) and not torch.equal(state["fc.weight"], torch.full((10, 784), 3.0))
    fresh = Normalised()
    reinitialise(fresh, seed=1)
    assert torch.equal(fresh.fc.weight, state["fc.weight"])  # the carried weights play no part


def test_bubblewrap_shows_no_project_file_but_the_venv():
    argv = bubblewrap_argv(HARNESS, HELPERS, {"A": "b"}, None, 1024**2)
    sources = [argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind")]
    inside = [s for s in sources if s.startswith(str(PROJECT) + "/")]
    assert set(inside) <= {str(HARNESS), str(HELPERS), os.path.realpath(sys.prefix)}, inside
    assert "--unshare-net" in argv and "--unshare-pid" in argv and "--die-with-parent" in argv
    assert "--clearenv" in argv


class Wide(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, 4096), nn.Linear(4096, 10)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


def _rewrite_graph(folder: Path, change) -> None:
    path = folder / "fc.exported_program"
    graph = json.loads(path.read_bytes())
    change(graph)
    path.write_text(json.dumps(graph))


def _shrink_sizes(node) -> None:
    """Forge the shape metadata: every tensor claims to hold a single value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "sizes" and isinstance(value, list):
                node[key] = [{"as_int": 1} for _ in value]
            else:
                _shrink_sizes(value)
    elif isinstance(node, list):
        for value in node:
            _shrink_sizes(value)


def test_forged_shape_metadata_does_not_lower_the_cost(tmp_path):
    folder = _export_to(tmp_path, Wide())
    _rewrite_graph(folder, _shrink_sizes)
    with pytest.raises(ArtifactError, match="costs|shapes do not add up"):
        _runnable(folder, BUDGET)


def _retarget(graph, new_target: str) -> None:
    text = json.dumps(graph).replace('"torch.ops.aten.relu.default"', json.dumps(new_target))
    graph.clear()
    graph.update(json.loads(text))


@pytest.mark.parametrize("target", ["torch._ops.ops.aten.relu.default", "torch.ops.aten.from_file.default",
                                    "torch.ops.aten.fill_.Scalar", "builtins.eval", "torch.ops.higher_order.cond",
                                    "_operator.call", "torch.ops.aten.rand.default"])
def test_forged_operators_are_refused_by_name(tmp_path, target):
    folder = _export_to(tmp_path, Wide())
    _rewrite_graph(folder, lambda graph: _retarget(graph, target))
    with pytest.raises(ArtifactError, match="does not run|random|not safe|PyTorch does not know"):
        load_exported(folder, "fc", UNLIMITED, (784,), 100)


def _rename(graph, old: str, new: str) -> None:
    text = json.dumps(graph).replace(json.dumps(old), json.dumps(new))
    graph.clear()
    graph.update(json.loads(text))


def _rename_parameter(folder: Path, old: str, new: str) -> None:
    """In the signature and in the state record alike, as a consistent forgery would."""
    _rewrite_graph(folder, lambda graph: _rename(graph, old, new))
    state = torch.load(folder / "fc.state_dict", weights_only=True)
    torch.save({new if name == old else name: tensor for name, tensor in state.items()}, folder / "fc.state_dict")


def _set_call(graph, field: str, value) -> None:
    graph["graph_module"]["module_call_graph"][0]["signature"][field] = value


def _importing_spec(graph, module: str) -> None:
    """An input spec whose keyword-argument context names an enum by module path: pytree's decoder
    imports the module to find it."""
    spec = json.loads(graph["graph_module"]["module_call_graph"][0]["signature"]["in_spec"])
    keywords = spec[1]["children_spec"][1]
    keywords["context"] = json.dumps([{"__enum__": 1, "fqn": f"{module}:d", "name": "a"}])
    keywords["children_spec"] = [{"type": None, "context": None, "children_spec": []}]
    _set_call(graph, "in_spec", json.dumps(spec))


def _add_argument(graph, argument: dict) -> None:
    node = next(node for node in graph["graph_module"]["graph"]["nodes"] if node["target"].endswith("relu.default"))
    node["inputs"].append({"name": "approximate", "arg": argument, "kind": 2})


def _forge(change):
    return lambda folder, run: _rewrite_graph(folder, lambda graph: change(graph, run))


# Each writes Python into a field of the record that torch.export's loader turns into code, or into a
# lookup by name, in the process that loads it; the code would create the marker file.
FORGERIES = {
    "guard code": _forge(lambda graph, run: graph.update(guards_code=[f"{run} is None"])),
    "the input's name": _forge(lambda graph, run: _rename(graph, "x", f"x={run}")),
    "an operation's name": _forge(lambda graph, run: _rename(graph, "relu", f"relu={run}")),
    "a parameter's path": lambda folder, run: _rename_parameter(
        folder, "fc1.weight", f'fc1.w", 0) or {run} or getattr(self, "w'),
    "the forward's argument names": _forge(lambda graph, run: _set_call(
        graph, "forward_arg_names", ["x='" + "''" + f", y={run}):\n    f=lambda *a:0;f(([0"])),
    "a string argument": _forge(lambda graph, run: _add_argument(graph, {"as_string": f"');{run}#"})),
    "an operator as an argument": _forge(lambda graph, run: _add_argument(graph, {"as_operator": "os.system"})),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_record_that_would_become_code_never_runs_in_the_grader(tmp_path, forgery):
    """Refused with the reason, or rebuilt without it: either way the grader's module runs, or fails,
    without the record's code (``autograder/graph_record.py``)."""
    marker = tmp_path / "ran"
    folder = _export_to(tmp_path, Wide())
    FORGERIES[forgery](folder, f"open({str(marker)!r}, 'w').close()")
    try:
        module = load_exported(folder, "fc", UNLIMITED, (784,), 100).module()
        module(torch.rand(100, 784)).sum().backward()
        assert forgery == "the forward's argument names"   # a field the grader writes itself
    except ArtifactError as refused:
        assert any(reason in str(refused) for reason in ("not a plain name", "Python code", "of kind", "short word")), refused
    assert not marker.exists()


def _extra_parameter(folder: Path, path: str) -> None:
    """A parameter the graph never uses, under ``path``: torch still follows the path when it builds the
    module."""
    def add(graph) -> None:
        module = graph["graph_module"]
        module["signature"]["input_specs"].insert(0, {"parameter": {"arg": {"name": "p_extra"}, "parameter_name": path}})
        module["graph"]["inputs"].insert(0, {"as_tensor": {"name": "p_extra"}})
        module["graph"]["tensor_values"]["p_extra"] = dict(module["graph"]["tensor_values"]["p_fc1_bias"])

    _rewrite_graph(folder, add)
    state = torch.load(folder / "fc.state_dict", weights_only=True)
    state[path] = nn.Parameter(torch.zeros(4096))
    torch.save(state, folder / "fc.state_dict")


@pytest.mark.parametrize("path", ["__class__.__base__.__base__.__base__.__setattr__",
                                  "_graph.owning_module.__class__.__call__", "forward", "fc1._parameters"])
def test_a_parameter_path_that_leads_into_the_modules_own_attributes_is_refused(tmp_path, path):
    """Such a path would have torch overwrite what it finds there: PyTorch's own classes, shared by
    every later grading in the process (``nn.Module.__setattr__``, ``__call__``). An honest graph still
    loads and trains afterwards."""
    setattr_before, call_before = nn.Module.__setattr__, nn.Module.__call__
    for folder in ("forged", "honest"):
        (tmp_path / folder).mkdir()
    _extra_parameter(_export_to(tmp_path / "forged", Wide()), path)
    with pytest.raises(ArtifactError, match="a name the module itself uses"):
        load_exported(tmp_path / "forged", "fc", UNLIMITED, (784,), 100).module()
    assert nn.Module.__setattr__ is setattr_before and nn.Module.__call__ is call_before
    honest = load_exported(_export_to(tmp_path / "honest", Wide()), "fc", UNLIMITED, (784,), 100).module()
    assert len(list(copy.deepcopy(honest).parameters())) == 4


def test_a_spec_that_would_import_a_module_is_refused(tmp_path):
    """``this`` prints a poem when imported: any module's top-level code would run as well."""
    folder = _export_to(tmp_path, Wide())
    _rewrite_graph(folder, lambda graph: _importing_spec(graph, "this"))
    with pytest.raises(ArtifactError, match="one tensor"):
        load_exported(folder, "fc", UNLIMITED, (784,), 100)
    assert "this" not in sys.modules


def test_the_module_the_grader_runs_never_runs_the_graphs_guard_code(tmp_path, monkeypatch):
    """A second line of defence, should the rebuilt record ever keep a field it should not: the module
    the checks and the trainings run has no guard function (``ExportedProgram.module()`` compiles
    ``guards_code`` into one by default, in the process that calls it)."""
    marker = tmp_path / "ran"
    folder = _export_to(tmp_path, Wide())
    FORGERIES["guard code"](folder, f"open({str(marker)!r}, 'w').close()")
    rebuild = graph_record._program

    def leaky(document):
        record = rebuild({**document, "guards_code": []})
        kept = json.loads(record.json)
        kept["guards_code"] = document["guards_code"]
        return dataclasses.replace(record, json=json.dumps(kept).encode())

    monkeypatch.setattr(graph_record, "_program", leaky)
    module = load_exported(folder, "fc", UNLIMITED, (784,), 100).module()
    module(torch.rand(100, 784)).sum().backward()
    assert not marker.exists()


class ExpandedStatistic(nn.Module):
    """A batch-norm-named buffer that claims billions of values while storing one."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(784, 10)
        self.register_buffer("running_var", torch.zeros(1, 1).expand(2_000_000, 1000))

    def forward(self, x):
        return self.fc(x)


def test_tensors_that_repeat_a_few_stored_values_are_refused(tmp_path):
    with pytest.raises(ArtifactError, match="view of fewer values"):
        load_exported(_export_to(tmp_path, ExpandedStatistic()), "fc", BUDGET, (784,), 100)
    torch.save({"fc1.weight": torch.zeros(1).expand(10**9)}, tmp_path / "fc.pt")
    with pytest.raises(ArtifactError, match="view of fewer values"):
        load_tensors(tmp_path / "fc.pt")


class Transposed(nn.Module):
    """A transposed convolution written with the core operator (``nn.ConvTranspose2d`` exports to a
    non-core one, which the grader refuses)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(256, 1, 27, 27))

    def forward(self, x):
        return torch.ops.aten.convolution(x, self.weight, None, [1, 1], [0, 0], [1, 1], True, [0, 0], 1)


def test_transposed_convolutions_are_costed_by_what_they_spread():
    from autograder.operators import node_cost, refusal

    program = torch.export.export(Transposed().eval(), (torch.rand(1, 256, 28, 28),))
    node = next(n for n in program.graph.nodes if n.op == "call_function" and "convolution" in str(n.target))
    assert node_cost(node) >= 2 * 256 * 28 * 28 * 27 * 27
    assert refusal(torch.ops.aten.conv_transpose2d.input) is not None


def test_the_warm_sandbox_empties_a_deep_locked_tree_by_short_paths(tmp_path, monkeypatch):
    """What a child leaves in a writable folder goes, however deep and whatever its modes, and no path the
    removal touches is longer than two names below the folder: a chain a thousand folders deep with files
    at the bottom costs the zygote no more than a flat folder (a slow emptying would cost the batch its
    warm sandbox)."""
    from autograder.sandbox.harness import zygote

    top = tmp_path / "writable"
    top.mkdir()
    descriptor = os.open(top, os.O_RDONLY)
    for depth in range(1000):
        os.mkdir("d", dir_fd=descriptor)
        inner = os.open("d", os.O_RDONLY, dir_fd=descriptor)
        os.close(descriptor)
        descriptor = inner
        if depth % 100 == 0:
            os.close(os.open(f"f{depth}", os.O_CREAT | os.O_WRONLY, dir_fd=descriptor))
    for index in range(200):
        os.close(os.open(str(index), os.O_CREAT | os.O_WRONLY, dir_fd=descriptor))
    os.fchmod(descriptor, 0o100)   # the deepest folder cannot be listed
    os.close(descriptor)
    os.chmod(top / "d", 0)         # nor the first
    longest = [0]
    for name in ("unlink", "rename", "chmod", "rmdir", "scandir"):
        original = getattr(os, name)

        def measured(path, *args, _original=original, **kwargs):
            longest[0] = max(longest[0], len(Path(path).relative_to(top).parts))
            return _original(path, *args, **kwargs)
        monkeypatch.setattr(zygote.os, name, measured)
    zygote._remove_inside(str(top))
    monkeypatch.undo()
    assert list(top.iterdir()) == [] and longest[0] <= 2
