"""The loss, the optimizer and ``train_model`` called on the contract's probe problems.

Each probe hands the student's code real PyTorch objects (a real ``nn.CrossEntropyLoss``, a real SGD
optimizer, real data loaders) and sends back only the effect: a loss value, parameter changes, the probe
network's states along ``train_model``'s passes over its loaders and the accuracies it returned. The
grader recomputes what each should be.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from .contract import (
    MAX_ACCURACIES,
    OPTIMIZER_CHOICES,
    OPTIMIZER_STEP,
    OPTIMIZER_STEPS,
    PROBE_BATCH,
    TRACE_BATCH,
    TRACE_END,
    TRACE_EVENTS,
    TRACE_FINAL,
    TRACE_START,
    TRACE_TEST,
    TRACE_TRAIN,
    loop_trace_record,
)
from .problems import ProbeNet, criterion_inputs, flat_state, optimizer_gradients, probe_optimizer, probe_problem
from .wire import send_tensors

_OPTIMIZER_BASE = torch.optim.Optimizer
_MODULE_BASE = nn.Module


def _plain(value: object) -> float | bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _type_name(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"[:300]


def criterion_probe(namespace: dict, seed: int) -> dict:
    """What ``criterion`` computes on the contract's logits and labels."""
    criterion = namespace.get("criterion")
    found: dict = {"type": _type_name(criterion)}
    if callable(criterion):
        logits, labels = criterion_inputs(seed)
        value = float(criterion(logits, labels))
        found["value"] = value if math.isfinite(value) else None
    return found


def optimizer_probe(namespace: dict, seed: int) -> dict:
    """``opt.step()`` twice with the same gradients on ``model_fc``'s parameters: the changes are sent
    as ``OPTIMIZER_STEP`` ("step/index" -> change), the optimizer's settings in the report."""
    opt, model = namespace.get("opt"), namespace.get("model_fc")
    found: dict = {"type": _type_name(opt)}
    if not isinstance(opt, _OPTIMIZER_BASE) or not isinstance(model, _MODULE_BASE):
        return found
    found["groups"] = [{key: _plain(group.get(key)) for key in OPTIMIZER_CHOICES} for group in opt.param_groups][:100]
    parameters = list(model.parameters())
    gradients = optimizer_gradients(seed, [tuple(p.shape) for p in parameters])
    changes = {}
    for step in range(1, OPTIMIZER_STEPS + 1):
        before = [p.detach().cpu().clone() for p in parameters]
        for parameter, gradient in zip(parameters, gradients, strict=True):
            parameter.grad = gradient.clone().to(parameter.device)
        opt.step()
        changes.update({f"{step}/{index}": p.detach().cpu() - before[index] for index, p in enumerate(parameters)})
    send_tensors(OPTIMIZER_STEP, changes)
    return found


class Trace:
    """The probe network's state (and ``training`` flag) each time the loop starts a pass over a loader,
    draws a batch from it, or exhausts it: how the weights moved from batch to batch and from epoch to
    epoch, for the grader to replay."""

    def __init__(self, net: ProbeNet, opt: torch.optim.Optimizer) -> None:
        self.net, self.opt = net, opt
        self.states: list[torch.Tensor] = []
        self.events: list[tuple[int, int, int]] = []

    def record(self, loader: int, kind: int) -> None:
        if len(self.events) < TRACE_EVENTS:
            self.states.append(flat_state(self.net, self.opt))
            self.events.append((loader, kind, int(bool(self.net.training))))

    def watch(self, loader: int, batches):
        self.record(loader, TRACE_START)
        for batch in batches:
            self.record(loader, TRACE_BATCH)
            yield batch
        self.record(loader, TRACE_END)

    def finish(self) -> dict[str, torch.Tensor]:
        """The trace, ending with the final state (recorded even past the bound)."""
        self.states.append(flat_state(self.net, self.opt))
        self.events.append((TRACE_FINAL, TRACE_END, int(bool(self.net.training))))
        return {"states": torch.stack(self.states), "events": torch.tensor(self.events, dtype=torch.int64)}


class TracedLoader(DataLoader):
    """A plain ``DataLoader`` whose passes are recorded in a ``Trace``."""

    def __init__(self, dataset: TensorDataset, trace: Trace, loader: int) -> None:
        super().__init__(dataset, batch_size=PROBE_BATCH)
        self._trace, self._loader = trace, loader

    def __iter__(self):
        return self._trace.watch(self._loader, super().__iter__())


def traced_call(train_model, seed: int, epochs: int) -> tuple[object, dict, Exception | None]:
    """``train_model`` called on the probe problem for ``epochs`` with traced loaders: what it returned,
    the trace of its passes (with the final weights) and the error it raised, if any: the passes it made
    before a later line failed (a print, the evaluation) are judged all the same."""
    problem = probe_problem(seed, epochs)
    net = problem.network()
    opt = probe_optimizer(net)
    trace = Trace(net, opt)
    train = TracedLoader(TensorDataset(problem.train_x, problem.train_y), trace, TRACE_TRAIN)
    test = TracedLoader(TensorDataset(problem.test_x, problem.test_y), trace, TRACE_TEST)
    try:
        history = train_model(net, nn.CrossEntropyLoss(), opt, train, test, epochs)
    except Exception as error:  # noqa: BLE001 - raised again once the trace is sent (timeouts are no Exception)
        return None, trace.finish(), error
    return history, trace.finish(), None


def loop_probe(namespace: dict, seed: int, epochs: int) -> dict:
    """``train_model`` on the probe problem for ``epochs``: the trace of its passes over the loaders (with
    the final weights) is sent, the accuracies it returned go in the report; an error it raised ends the
    phase after the trace is sent."""
    history, trace, error = traced_call(namespace["train_model"], seed, epochs)
    send_tensors(loop_trace_record(epochs), trace)
    if error is not None:
        raise error
    return {"test_acc": returned_accuracies(history)}


def returned_accuracies(history: object) -> list | None:
    """The accuracies in ``history["test_acc"]``: a list or tuple of numbers, or a NumPy array or tensor of
    them (what the notebook's own plots accept as well)."""
    accuracies: Any = history.get("test_acc") if isinstance(history, dict) else None
    if not isinstance(accuracies, (list, tuple)) and hasattr(accuracies, "reshape") and hasattr(accuracies, "tolist"):
        accuracies = accuracies.reshape(-1)[:MAX_ACCURACIES].tolist()
    if isinstance(accuracies, (list, tuple)):
        return [_plain(float(a)) for a in list(accuracies)[:MAX_ACCURACIES]]
    return None
