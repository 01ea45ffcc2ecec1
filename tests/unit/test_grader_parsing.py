"""The grader's own parsing of a graph record is bounded by what a real record costs: a record far beyond
the reference's own is refused before any parsing, and torch.export's deserializer never loads tensors
itself (its fallback to ``weights_only=False`` has nothing to run on)."""

from __future__ import annotations

import inspect
import pickle
import time
from pathlib import Path

import pytest
import torch
from torch._export.serde.serialize import serialize

from autograder.artifacts import REFERENCE_GRAPH_BYTES, ArtifactError, GraphCost, largest_graph, load_exported
from autograder.assignment import MODELS
from autograder.reference import REFERENCES
from autograder.sandbox.harness.contract import GRAPH_PARTS, graph_record

UNLIMITED = GraphCost(10**15, 10**15)


def _export(folder: Path, model: str, key: str | None = None) -> Path:
    """The reference ``model``'s graph records, as the harness sends them, under ``key``."""
    artifact = serialize(torch.export.export(REFERENCES[model]().eval(), (torch.rand(64, *MODELS[model].input),)))
    for part in GRAPH_PARTS:
        (folder / graph_record(key or model, part)).write_bytes(getattr(artifact, part))
    return folder


def _peak_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


@pytest.mark.parametrize("model", list(REFERENCES))
def test_reference_graph_sizes_are_measured_and_fit(tmp_path, model):
    size = len((_export(tmp_path, model) / graph_record(model, "exported_program")).read_bytes())
    assert REFERENCE_GRAPH_BYTES[model] * 0.8 < size <= largest_graph(model) // 4
    load_exported(tmp_path, model, UNLIMITED, MODELS[model].input, 64)


@pytest.mark.parametrize("key", ["lenet_second", "cnn_8_16_32"])
def test_a_record_beyond_its_models_bound_is_refused_before_parsing(tmp_path, key):
    """Empty lists by the million are valid JSON with no operator: refused by size, in milliseconds and
    without the grader's peak memory growing by anything like what parsing them would take."""
    _export(tmp_path, key.split("_")[0], key)
    (tmp_path / graph_record(key, "exported_program")).write_bytes(b"[" + b"[]," * 20_000_000 + b"[]]")
    before, started = _peak_bytes(), time.process_time()
    with pytest.raises(ArtifactError, match="too large"):
        load_exported(tmp_path, key, UNLIMITED, MODELS[key.split("_")[0]].input, 64)
    assert time.process_time() - started < 1.0
    assert _peak_bytes() - before < 16 * 1024**2


def test_a_record_within_the_bound_is_parsed_in_bounded_memory_and_time(tmp_path):
    """The worst record the bound lets through (the most empty lists that fit) costs little to refuse."""
    _export(tmp_path, "cnn")
    lists = (largest_graph("cnn") - 2) // 3
    (tmp_path / graph_record("cnn", "exported_program")).write_bytes(b"[" + b"[]," * (lists - 1) + b"[]]")
    before, started = _peak_bytes(), time.process_time()
    with pytest.raises(ArtifactError, match="not what torch.export writes"):
        load_exported(tmp_path, "cnn", UNLIMITED, MODELS["cnn"].input, 64)
    assert time.process_time() - started < 2.0   # 60 MB of them: over a minute
    assert _peak_bytes() - before < 32 * 1024**2


class _Marker:
    """Unpickled with ``weights_only=False``, it would create a file: code running in the grader."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_the_deserializer_never_loads_tensors_itself(tmp_path, monkeypatch):
    """Every ``torch.load`` while a graph loads is the grader's own, with ``weights_only=True``; a state
    record that only an unsafe load could read is refused, and nothing in it ran."""
    calls: list[tuple[bool, str]] = []
    load = torch.load

    def recording(*args, **kwargs):
        calls.append((kwargs.get("weights_only", False), inspect.stack()[1].filename))
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording)
    load_exported(_export(tmp_path, "fc"), "fc", UNLIMITED, (784,), 64)
    assert calls and all(safe and filename.endswith("artifacts.py") for safe, filename in calls), calls
    marker = tmp_path / "ran"
    (tmp_path / graph_record("fc", "state_dict")).write_bytes(pickle.dumps(_Marker(marker)))
    with pytest.raises(ArtifactError, match="not a tensor file"):
        load_exported(tmp_path, "fc", UNLIMITED, (784,), 64)
    assert not marker.exists()
