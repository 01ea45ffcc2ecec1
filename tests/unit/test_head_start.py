"""The graphs the grader loads while the sandbox still runs: used only where the checks would have loaded
the very same pieces, for the same model and batch; a record sent again, changed, is loaded again."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn
from torch._export.serde.serialize import serialize

from autograder.assignment import FC
from autograder.head_start import GraphLoad, HeadStart
from autograder.sandbox.harness.contract import GRAPH_PARTS, graph_record, second_key


class Net(nn.Module):
    def __init__(self, act=F.relu) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3, self.fc4 = (nn.Linear(784, 512), nn.Linear(512, 256), nn.Linear(256, 128),
                                                  nn.Linear(128, 10))
        self.act = act

    def forward(self, x):
        return self.fc4(self.act(self.fc3(self.act(self.fc2(self.act(self.fc1(torch.flatten(x, 1))))))))


def send(folder: Path, received: set[str], key: str, module: nn.Module, batch: int = 100) -> None:
    """What the harness's export and the grader's channel reader leave: the pieces, then their names."""
    artifact = serialize(torch.export.export(module.eval(), (torch.rand(batch, 784),)))
    for part in GRAPH_PARTS:
        (folder / graph_record(key, part)).write_bytes(getattr(artifact, part))
        received.add(graph_record(key, part))


def sandbox(folder: Path, received: set[str]) -> SimpleNamespace:
    return SimpleNamespace(folder=folder, channel=SimpleNamespace(received=received))


def outputs(graph) -> torch.Tensor:
    with torch.no_grad():
        return graph.module()(torch.linspace(-1, 1, 100 * 784).reshape(100, 784))


def test_a_graph_loaded_early_is_used_only_while_its_pieces_are_unchanged(tmp_path):
    received: set[str] = set()
    head = HeadStart(seed=7)
    assert not head._load_next(sandbox(tmp_path, received))     # nothing has arrived
    send(tmp_path, received, "fc", Net())
    assert head._load_next(sandbox(tmp_path, received))
    assert not head._load_next(sandbox(tmp_path, received))     # each graph at most once
    early = head.graphs["fc"].graph
    load = GraphLoad(FC, 100)
    assert head.graph(tmp_path, "fc", load) is early
    assert head.graph(tmp_path, "fc", GraphLoad(FC, 99)) is not early   # another batch: loaded as asked

    torch.manual_seed(0)
    changed = Net(act=torch.tanh)
    send(tmp_path, received, "fc", changed)                      # sent again, changed, after the early load
    assert not head._load_next(sandbox(tmp_path, received))     # not loaded early again
    final = head.graph(tmp_path, "fc", load)
    assert final is not early
    assert torch.allclose(outputs(final), changed(torch.linspace(-1, 1, 100 * 784).reshape(100, 784)), atol=1e-5)
    assert not torch.allclose(outputs(final), outputs(early), atol=1e-3)


def test_a_record_that_cannot_be_loaded_early_is_left_to_the_check(tmp_path):
    received: set[str] = set()
    head = HeadStart(seed=7)
    for part in GRAPH_PARTS:
        (tmp_path / graph_record(second_key("fc"), part)).write_bytes(b"not a graph")
        received.add(graph_record(second_key("fc"), part))
    assert head._load_next(sandbox(tmp_path, received))
    assert head.graphs == {}
