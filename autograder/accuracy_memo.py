"""Accuracies the grader has measured in this process, kept by everything that decides them, so that a
batch trains each distinct graph once.

The grader's training is a pure function of what the module runs and of the budget: the code of its
forward, the names, shapes and types of its parameters and buffers (``training.reinitialise`` draws
every value afresh, from the grader's seed), the values of its few constants, the input and output
structure, and the training's settings. Many students of a class export the same graph for a model
(same layers, same operators, same names); a batch worker trains it for the first of them and gives
the others the accuracy it measured, which is the one their own training would have reached (the
trainings run on one thread each, on the same data: same code, same arithmetic, same result).

Only the grader writes here, and only accuracies it measured itself. A training that failed is not
kept (the next submission with that graph is trained again); one that succeeded is kept with the CPU
time its deadline last saw, so that a grading with less time left for it loses the points as its own
training would have. (A reused accuracy takes none of the grading's own CPU time, which leaves more of
it to the other checks: that differs only for a grading that reaches the grader's CPU bound.) A
module of any other form than ``ExportedProgram.module()`` builds (a submodule with code or hooks of its
own, an attribute that is not a tensor, a constant that shares its values with a parameter or buffer)
gets no key and is always trained, as is one whose key cannot be computed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import torch
from torch import fx, nn

MAX_KEPT = 4096         # far more distinct graphs than a class sends; each entry is a few dozen bytes


@dataclass(frozen=True)
class Measured:
    accuracy: float
    cpu_seconds: float  # the training thread's CPU time when its deadline was last checked


def outcome_key(module: nn.Module, budget: tuple) -> str | None:
    """A digest of everything the training of ``module`` under ``budget`` depends on, or None when the
    module holds something this does not account for."""
    if not isinstance(module, fx.GraphModule):
        return None
    try:
        return _digest(module, budget)
    except Exception:  # noqa: BLE001 - a module the key cannot describe is trained, never refused
        return None


def _digest(module: fx.GraphModule, budget: tuple) -> str | None:
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode() + b"\n")

    add("budget", budget)
    add("code", module.training, module.code, *(repr(getattr(module, name, None))
                                                 for name in ("_in_spec", "_out_spec", "range_constraints")))
    for name, submodule in module.named_modules():
        if submodule is not module and (type(submodule) is not nn.Module or submodule._forward_hooks
                                        or submodule._forward_pre_hooks):
            return None   # only the plain holders of parameters that unlifting creates
        add("module", name)
    for name, parameter in module.named_parameters():
        add("parameter", name, tuple(parameter.shape), str(parameter.dtype), parameter.requires_grad)
    for name, buffer in module.named_buffers():
        add("buffer", name, tuple(buffer.shape), str(buffer.dtype))
    held = [*module.parameters(), *module.buffers()]
    held_ids = {id(tensor) for tensor in held}
    held_storage = {tensor.untyped_storage().data_ptr() for tensor in held}
    for node in module.graph.nodes:
        if node.op == "call_module":
            return None
        if node.op != "get_attr":
            continue
        value = module
        for part in str(node.target).split("."):
            value = getattr(value, part)
        if not isinstance(value, torch.Tensor):
            return None
        if id(value) not in held_ids:   # a constant: its values stay as they came, unless reinitialised through
            if value.untyped_storage().data_ptr() in held_storage:   # a parameter or buffer it shares them with
                return None
            add("constant", node.target, tuple(value.shape), str(value.dtype),
                value.detach().reshape(-1).contiguous().view(torch.uint8).tolist())
    return digest.hexdigest()


class AccuracyMemo:
    """Measured accuracies by ``outcome_key``; safe to share between the training threads."""

    def __init__(self) -> None:
        self._kept: dict[str, Measured] = {}
        self._lock = threading.Lock()

    def get(self, key: str | None) -> Measured | None:
        if key is None:
            return None
        with self._lock:
            return self._kept.get(key)

    def keep(self, key: str | None, measured: Measured) -> None:
        if key is None:
            return
        with self._lock:
            if len(self._kept) >= MAX_KEPT:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = measured
