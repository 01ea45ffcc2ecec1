"""The trace of one ``train_model`` call on the probe problem (``harness.probes``), read into passes over
the loaders. The trace comes from the sandbox and can be forged: it only says where to look; every point
is earned by what the grader recomputes from it (``loop_judge``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .sandbox.harness.contract import (
    TRACE_BATCH,
    TRACE_END,
    TRACE_EVENTS,
    TRACE_FINAL,
    TRACE_START,
    TRACE_TEST,
    TRACE_TRAIN,
)
from .sandbox.harness.problems import ProbeNet, flat_state, probe_optimizer


class TraceError(ValueError):
    """The trace is not one the harness writes."""


@dataclass
class Pass:
    """One pass over a loader: the state when it began, when each batch was drawn, and when the loader
    was exhausted (None after a ``break``); ``after`` is the first state recorded after its last batch."""

    loader: int
    start: int                                  # index into Trace.states
    batches: list[int] = field(default_factory=list)
    end: int | None = None


@dataclass
class Trace:
    states: torch.Tensor                        # (events, flat state)
    passes: list[Pass]
    final: int

    def train_passes(self) -> list[Pass]:
        return [p for p in self.passes if p.loader == TRACE_TRAIN]

    def test_passes(self) -> list[Pass]:
        return [p for p in self.passes if p.loader == TRACE_TEST]


def read_trace(tensors: dict[str, torch.Tensor]) -> Trace:
    states, events = tensors.get("states"), tensors.get("events")
    width = len(flat_state(ProbeNet(), probe_optimizer(ProbeNet())))
    if not isinstance(states, torch.Tensor) or not isinstance(events, torch.Tensor) \
            or states.dim() != 2 or states.shape[1] != width or not states.is_floating_point() \
            or events.shape != (len(states), 3) or events.dtype != torch.int64 \
            or not 0 < len(states) <= TRACE_EVENTS + 1:
        raise TraceError("the record of the loop's passes over the loaders is malformed")
    if len(states) > TRACE_EVENTS:
        raise TraceError(f"the loop drew more than {TRACE_EVENTS} batches from the probe's loaders")
    if not torch.isfinite(states).all():
        raise TraceError("the probe network's weights became infinite or NaN during training")
    states = states.float()
    passes: list[Pass] = []
    open_pass: dict[int, Pass] = {}
    final = None
    for index, (loader, kind, _) in enumerate(events.tolist()):
        if loader == TRACE_FINAL:
            final = index
            break
        if loader not in (TRACE_TRAIN, TRACE_TEST) or kind not in (TRACE_START, TRACE_BATCH, TRACE_END):
            raise TraceError("the record of the loop's passes over the loaders is malformed")
        if kind == TRACE_START:
            open_pass[loader] = Pass(loader, index)
            passes.append(open_pass[loader])
        elif loader not in open_pass:
            raise TraceError("the record of the loop's passes over the loaders is malformed")
        elif kind == TRACE_BATCH:
            open_pass[loader].batches.append(index)
        else:
            open_pass[loader].end = index
            del open_pass[loader]
    if final is None:
        raise TraceError("the record of the loop's passes over the loaders is incomplete")
    return Trace(states, passes, final)
