"""Runs inside the sandbox process: executes the student's cells, then records artifacts.

This file is copied alone into an empty temporary folder and run with ``python -I``; it imports
nothing from the grader and knows no hidden check or expected value. It writes what it observes
(exported model graphs, parameters, call logs) into that folder; the grader verifies all of it.

    python -I harness.py job.json
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import traceback

import torch
from torch import nn
from torch._export.serde.serialize import serialize

# Kept before any student code runs, so that rebinding these names cannot change what is recorded.
_SAVE = torch.save
_OPEN = open
_DUMPS = json.dumps
_IS_GRAD_ENABLED = torch._C.is_grad_enabled
_EQUAL = torch.equal
_STDOUT, _STDERR = sys.stdout, sys.stderr


class PhaseTimeout(BaseException):
    """Raised by SIGALRM when a phase runs past its budget (a BaseException, so `except Exception` in
    student code does not swallow it)."""


def _alarm(signum, frame):
    raise PhaseTimeout()


class CappedStream(io.TextIOBase):
    """Keeps the first ``limit`` characters written and counts the rest, so printing cannot flood."""

    def __init__(self, limit: int) -> None:
        self.limit, self.kept, self.dropped = limit, [], 0
        self.size = 0

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if room > 0:
            self.kept.append(text[:room])
            self.size += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        return "".join(self.kept)


class IPythonShim:
    """Stands in for ``get_ipython()``: line magics and shell commands do nothing; the bodies of
    timing and capture cell magics still run."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_line_magic(self, name, line, *args, **kwargs):
        return None

    def run_cell_magic(self, name, line, cell, *args, **kwargs):
        if name in ("time", "capture", "timeit"):
            exec(compile(cell, "<cell magic>", "exec"), self.namespace)

    def system(self, *args, **kwargs):
        return None

    getoutput = system


def transform_magics(code: str) -> str:
    """Rewrite IPython syntax (``%matplotlib inline``, ``!pip ...``) into plain calls on get_ipython()."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    return TransformerManager().transform_cell(code)


class Phase:
    """Runs a block under a time budget with student output captured; records any error."""

    def __init__(self, report: dict, name: str, seconds: float, output_limit: int, folder: str) -> None:
        self.report, self.name, self.seconds, self.output_limit = report, name, seconds, output_limit
        self.folder = folder

    def __enter__(self):
        self.stream = CappedStream(self.output_limit)
        sys.stdout = sys.stderr = self.stream
        signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        self.started = time.monotonic()
        return self

    def __exit__(self, kind, error, tb):
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = _STDOUT, _STDERR
        entry = {"output": self.stream.text()[-2000:], "output_dropped": self.stream.dropped,
                 "seconds": round(time.monotonic() - self.started, 3)}
        if kind is PhaseTimeout:
            entry["error"] = f"timed out after {self.seconds:g} s"
        elif kind is not None:
            entry["error"] = "".join(traceback.format_exception_only(kind, error)).strip()[-1000:]
        self.report.setdefault("phases", {})[self.name] = entry
        write_json(self.folder, "report.json", self.report)  # what is known survives a later crash
        return True  # errors, sys.exit() and timeouts end the phase, not the grading


# ---- artifacts ----
def write_json(folder: str, name: str, data) -> None:
    with _OPEN(os.path.join(folder, name), "w") as handle:
        handle.write(_DUMPS(data))


def save_parameters(model: nn.Module, folder: str, key: str) -> None:
    """The model's learnable tensors by name (no forward pass needed, so a broken forward still counts)."""
    _SAVE({name: p.detach().cpu().clone() for name, p in model.named_parameters()}, os.path.join(folder, f"{key}.pt"))


def export_model(model: nn.Module, input_shape: list, batch: int, folder: str, key: str) -> None:
    """Export the model's graph for a fixed batch size and store its serialized pieces."""
    model = model.cpu().eval()
    example = torch.rand(batch, *input_shape)
    program = torch.export.export(model, (example,))
    artifact = serialize(program)
    for part in ("exported_program", "state_dict", "constants", "example_inputs"):
        with _OPEN(os.path.join(folder, f"{key}.{part}"), "wb") as handle:
            handle.write(getattr(artifact, part))


def record_answers(namespace: dict, names: list) -> dict:
    answers = {}
    for name in names:
        value = namespace.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            answers[name] = None if value is None else repr(type(value).__name__)
        else:
            answers[name] = value
    return answers


def record_setup(namespace: dict, folder: str, seed: int) -> dict:
    """What `criterion` computes on seeded logits, and what one `opt.step()` does to model_fc."""
    found = {}
    criterion, opt, model = namespace.get("criterion"), namespace.get("opt"), namespace.get("model_fc")
    found["criterion_type"] = type(criterion).__module__ + "." + type(criterion).__qualname__
    if callable(criterion):
        generator = torch.Generator().manual_seed(seed)
        logits = torch.randn(16, 10, generator=generator)
        labels = torch.randint(0, 10, (16,), generator=generator)
        found["criterion_value"] = float(criterion(logits, labels))
    found["optimizer_type"] = type(opt).__module__ + "." + type(opt).__qualname__
    if isinstance(opt, torch.optim.Optimizer) and isinstance(model, nn.Module):
        found["optimizer_lr"] = [float(group.get("lr", float("nan"))) for group in opt.param_groups]
        generator = torch.Generator().manual_seed(seed + 1)
        names, before = [], {}
        for name, parameter in model.named_parameters():
            names.append(name)
            before[name] = parameter.detach().clone()
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        opt.step()
        deltas = {name: (parameter.detach() - before[name]) for name, parameter in model.named_parameters()}
        _SAVE(deltas, os.path.join(folder, "optimizer_step.pt"))
        found["optimizer_parameters"] = names
    return found


class ProbeModel(nn.Module):
    """A small MLP that logs every forward pass: which batch, train/eval mode, gradients on or off."""

    def __init__(self, events: list, test_batches: list) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(6, 12), nn.Linear(12, 3)
        self.events, self.test_batches = events, test_batches

    def forward(self, x):
        kind = "test" if any(x.shape == t.shape and _EQUAL(x, t) for t in self.test_batches) else "train"
        self.events.append({"event": "forward", "kind": kind, "training": self.training,
                            "grad_enabled": bool(_IS_GRAD_ENABLED())})
        return self.out(torch.relu(self.hidden(x)))


class LoggedLoss(nn.Module):
    def __init__(self, events: list) -> None:
        super().__init__()
        self.events = events

    def forward(self, logits, labels):
        self.events.append({"event": "loss"})
        return nn.functional.cross_entropy(logits, labels)


class LoggedSGD(torch.optim.SGD):
    def __init__(self, params, events: list, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.events = events

    def step(self, closure=None):
        self.events.append({"event": "step"})
        return super().step(closure)

    def zero_grad(self, set_to_none: bool = True):
        self.events.append({"event": "zero_grad"})
        return super().zero_grad(set_to_none)


def probe_loop(namespace: dict, spec: dict, epochs: int, folder: str) -> dict:
    """Call the student's train_model on the probe problem; log the calls and keep the final weights."""
    train_model = namespace["train_model"]
    generator = torch.Generator().manual_seed(spec["seed"])
    x = torch.randn(spec["samples"], 6, generator=generator)
    y = torch.randint(0, 3, (spec["samples"],), generator=generator)
    x_test = torch.randn(spec["test_samples"], 6, generator=generator)
    y_test = torch.randint(0, 3, (spec["test_samples"],), generator=generator)
    batch = spec["batch_size"]
    train_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)
    test_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_test, y_test), batch_size=batch)
    events = []
    torch.manual_seed(spec["seed"])
    model = ProbeModel(events, [x_test[i:i + batch] for i in range(0, len(x_test), batch)])
    first = model.hidden.weight
    first.register_hook(lambda grad: events.append({"event": "backward"}))
    history = train_model(model, LoggedLoss(events), LoggedSGD(model.parameters(), events, spec["lr"]),
                          train_loader, test_loader, epochs)
    _SAVE({k: v.detach().clone() for k, v in model.state_dict().items()},
          os.path.join(folder, f"loop_{epochs}.pt"))
    accuracies = history.get("test_acc") if isinstance(history, dict) else None
    if isinstance(accuracies, (list, tuple)):
        accuracies = [float(a) for a in accuracies]
    return {"events": events[:10000], "test_acc": accuracies}


def main() -> None:
    folder = os.getcwd()
    sys.path.insert(0, folder)  # the helpers package copied beside this file (-I leaves the folder off the path)
    with _OPEN(sys.argv[1]) as handle:
        job = json.load(handle)
    torch.set_num_threads(1)
    torch.manual_seed(job["seed"])
    report: dict = {}
    namespace: dict = {"__name__": "__main__"}
    namespace["get_ipython"] = lambda: IPythonShim(namespace)

    def phase(name: str, seconds: float = job["phase_seconds"]) -> Phase:
        return Phase(report, name, seconds, job["output_limit"], folder)

    for cell in job["cells"]:
        with phase(f"cell {cell['id']}", job["cell_seconds"]):
            exec(compile(transform_magics(cell["code"]), f"<cell {cell['id']}>", "exec"), namespace)

    with phase("answers"):
        report["answers"] = record_answers(namespace, job["answers"])
    for key, model in job["models"].items():
        with phase(f"export {key}"):
            instance = namespace.get(model["variable"])
            if not isinstance(instance, nn.Module):
                raise NameError(f"{model['variable']} is not defined as an nn.Module")
            save_parameters(instance, folder, key)
            export_model(instance, model["input"], job["batch_size"], folder, key)
    for filters in job["other_filters"]:
        key = "cnn_" + "_".join(map(str, filters))
        with phase(f"build {key}"):
            save_parameters(namespace["CNN"](filters=tuple(filters)), folder, key)
    with phase("setup"):
        report["setup"] = record_setup(namespace, folder, job["seed"])
    report["loop"] = {}
    for epochs in job["loop"]["epochs"]:
        with phase(f"loop {epochs}"):
            report["loop"][str(epochs)] = probe_loop(namespace, job["loop"], epochs, folder)
    report["complete"] = True
    write_json(folder, "report.json", report)


if __name__ == "__main__":
    main()
