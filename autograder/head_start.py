"""What the grader does while the sandbox still runs: load each exported graph as soon as its record has
arrived.

The sandbox spends its last second or so tracing graphs and running probes on one core while the grader,
ready by then, used to wait; loading the eight graphs (rebuilding, screening, recomputing shapes) took
about as long once the sandbox had ended. Nothing is decided early. When a check asks for a graph, the
grader reads its pieces again and uses the early load only where they are byte for byte the ones it
loaded early (by their SHA-256), for the same model and batch (a sandbox may send a record again, or
change it): what a sandbox sends late or changes costs the grader a second load, never a verdict. The
early loads run inside ``scoring.checking`` (the memory bound, the tripwire's first look, one PyTorch
thread), not the checks' CPU budget: each is bounded by its screening, and each graph is loaded early at
most once, so a sandbox that sends its records again and again cannot make the grader load them again
and again.

The accuracy trainings are not started early: they would share the interpreter with the loads and the
other checks, whose Python holds it for most of each training's steps (a training beside a busy Python
thread ran 23 to 80 times slower, measured), and they stay where they were, after the other checks.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .artifacts import ExportedModel, GraphCost, exported_from, graph_parts
from .assignment import CNN, MODELS, OTHER_CNN_FILTERS, ModelSpec
from .bounds import refused_memory
from .sandbox.harness.contract import EXPORT_BATCH, GRAPH_PARTS, filters_key, graph_record, second_key
from .sandbox.harness.problems import second_batch
from .sandbox.process import SandboxProcess

POLL_SECONDS = 0.02


class GraphLoad(NamedTuple):
    """How the checks load the graph under a key: as which model, for which batch."""

    spec: ModelSpec
    batch: int


def graph_loads(seed: int) -> dict[str, GraphLoad]:
    """Every graph the checks load for a submission of probe seed ``seed``, by key."""
    loads = {}
    for spec in MODELS.values():
        loads[spec.key] = GraphLoad(spec, EXPORT_BATCH)
        loads[second_key(spec.key)] = GraphLoad(spec, second_batch(seed))
    loads.update({filters_key(filters): GraphLoad(CNN, EXPORT_BATCH) for filters in OTHER_CNN_FILTERS})
    return loads


def load_graph(parts: dict[str, bytes], load: GraphLoad) -> ExportedModel:
    return exported_from(parts, GraphCost(*load.spec.reference_cost), load.spec.input, load.batch)


def digest(parts: dict[str, bytes]) -> str:
    """What identifies the pieces of a graph, kept instead of their bytes (up to 64 MB each)."""
    summary = hashlib.sha256()
    for name, data in sorted(parts.items()):
        summary.update(b"%s %d\n" % (name.encode(), len(data)))
        summary.update(data)
    return summary.hexdigest()


@dataclass
class EarlyGraph:
    digest: str
    load: GraphLoad
    graph: ExportedModel


class HeadStart:
    """The early loads of one grading (see the module's docstring)."""

    def __init__(self, seed: int) -> None:
        self.loads = graph_loads(seed)
        self.graphs: dict[str, EarlyGraph] = {}
        self._tried: set[str] = set()

    def while_running(self, sandbox: SandboxProcess) -> None:
        """Load graphs as their records arrive, until the sandbox has ended or has run past its time
        (then ``SandboxProcess.wait`` ends it)."""
        deadline = sandbox.started + sandbox.limits.total_seconds
        while sandbox.watchdog.is_alive() and time.monotonic() < deadline:
            if not self._load_next(sandbox):
                sandbox.watchdog.join(POLL_SECONDS)

    def _load_next(self, sandbox: SandboxProcess) -> bool:
        """Load one graph whose record has arrived whole (its last piece is sent after the others); False
        when there is none."""
        for key, load in self.loads.items():
            if key in self._tried or graph_record(key, GRAPH_PARTS[-1]) not in sandbox.channel.received:
                continue
            self._tried.add(key)
            try:
                parts = graph_parts(sandbox.folder, key)
                self.graphs[key] = EarlyGraph(digest(parts), load, load_graph(parts, load))
            except Exception as error:  # noqa: BLE001 - the check that asks for it meets the same failure as its own
                refused_memory(error)
            return True
        return False

    def graph(self, folder: Path, key: str, load: GraphLoad) -> ExportedModel:
        """The graph under ``key`` as the checks load it: the early one where its pieces are unchanged."""
        parts = graph_parts(folder, key)
        early = self.graphs.get(key)
        if early is not None and early.load == load and early.digest == digest(parts):
            return early.graph
        return load_graph(parts, load)
