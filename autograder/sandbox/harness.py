"""Runs inside the sandbox (see ``autograder/sandbox/__init__.py``): executes the student's cells,
then records what they built.

It reads the job as JSON on stdin, imports nothing from the grader and knows no hidden check or
expected value. What it observes (exported model graphs, parameters, call logs, the report) goes out
as framed records on file descriptor 3, the only channel back to the grader, which validates all of it.

    python -I harness.py < job.json 3> records
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

# Bound before any student code runs, so that rebinding torch's or json's names (torch.save = ...,
# torch.export.export = ...) cannot change what is recorded or how it is sent.
_SAVE = torch.save
_EXPORT = torch.export.export
_SERIALIZE = serialize
_DUMPS = json.dumps
_WRITE = os.write
_EXIT = os._exit
_BYTES_IO = io.BytesIO
_IS_GRAD_ENABLED = torch._C.is_grad_enabled
_EQUAL = torch.equal
_RANDN, _RANDINT, _RAND, _GENERATOR, _MANUAL_SEED = torch.randn, torch.randint, torch.rand, torch.Generator, torch.manual_seed
_DATA_LOADER, _TENSOR_DATASET = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
_CROSS_ENTROPY, _RELU = nn.functional.cross_entropy, torch.relu
_STDOUT, _STDERR = sys.stdout, sys.stderr
CHANNEL_FD = 3


def send(name: str, data: bytes) -> None:
    """One record on the channel: a JSON header line, then the bytes."""
    message = _DUMPS({"name": name, "size": len(data)}).encode() + b"\n" + data
    view = memoryview(message)
    while view:
        view = view[_WRITE(CHANNEL_FD, view):]


def send_tensors(name: str, tensors: dict) -> None:
    buffer = _BYTES_IO()
    _SAVE(tensors, buffer)
    send(name, buffer.getvalue())


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

    def __init__(self, report: dict, name: str, seconds: float, output_limit: int, modules: list) -> None:
        self.report, self.name, self.seconds, self.output_limit = report, name, seconds, output_limit
        self.modules = modules

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
        elif kind is not None and issubclass(kind, ModuleNotFoundError):
            entry["error"] = (f"ModuleNotFoundError: the module '{error.name}' is not available when grading; "
                              f"available: the standard library, {', '.join(self.modules)}")
        elif kind is not None:
            entry["error"] = "".join(traceback.format_exception_only(kind, error)).strip()[-1000:]
        self.report.setdefault("phases", {})[self.name] = entry
        send_report(self.report)  # what is known survives a later crash
        return True  # errors, sys.exit() and timeouts end the phase, not the grading


# ---- artifacts ----
def send_report(report: dict) -> None:
    send("report.json", _DUMPS(report).encode())


def save_parameters(model: nn.Module, key: str) -> None:
    """The model's learnable tensors by name (no forward pass needed, so a broken forward still counts)."""
    send_tensors(f"{key}.pt", {name: p.detach().cpu().clone() for name, p in model.named_parameters()})


def export_model(model: nn.Module, input_shape: list, batch: int, key: str) -> None:
    """Export the model's graph for a fixed batch size and send its serialized pieces."""
    model = model.cpu().eval()
    example = _RAND(batch, *input_shape)
    artifact = _SERIALIZE(_EXPORT(model, (example,)))
    for part in ("exported_program", "state_dict", "constants", "example_inputs"):
        send(f"{key}.{part}", getattr(artifact, part))


def record_criterion(namespace: dict, seed: int) -> dict:
    """What `criterion` computes on seeded logits and labels."""
    criterion = namespace.get("criterion")
    found = {"type": type(criterion).__module__ + "." + type(criterion).__qualname__}
    if callable(criterion):
        generator = _GENERATOR().manual_seed(seed)
        logits = _RANDN(16, 10, generator=generator)
        labels = _RANDINT(0, 10, (16,), generator=generator)
        found["value"] = float(criterion(logits, labels))
    return found


def record_optimizer(namespace: dict, seed: int) -> dict:
    """What two `opt.step()` calls do to model_fc's parameters, given the same seeded gradients each
    time (plain SGD moves them by the same amount twice; momentum or weight decay would not)."""
    opt, model = namespace.get("opt"), namespace.get("model_fc")
    found = {"type": type(opt).__module__ + "." + type(opt).__qualname__}
    if isinstance(opt, torch.optim.Optimizer) and isinstance(model, nn.Module):
        found["lr"] = [float(group.get("lr", float("nan"))) for group in opt.param_groups]
        generator = _GENERATOR().manual_seed(seed + 1)
        parameters = dict(model.named_parameters())
        gradients = {name: _RANDN(p.shape, generator=generator) for name, p in parameters.items()}
        deltas = {}
        for step in (1, 2):
            before = {name: p.detach().cpu().clone() for name, p in parameters.items()}
            for name, parameter in parameters.items():
                parameter.grad = gradients[name].clone().to(parameter.device)
            opt.step()
            deltas.update({f"{step}/{name}": p.detach().cpu() - before[name] for name, p in parameters.items()})
        send_tensors("optimizer_step.pt", deltas)
        found["parameters"] = list(parameters)
    return found


class ProbeModel(nn.Module):
    """A small MLP that logs every forward pass: which training and test samples it saw (whatever the
    batching), in train or eval mode, with gradients on or off; its outputs are remembered so that each
    loss can be attributed to the forward pass it consumed."""

    def __init__(self, events: list, train_x: torch.Tensor, test_x: torch.Tensor) -> None:
        super().__init__()
        self.hidden, self.out = nn.Linear(6, 12), nn.Linear(12, 3)
        self.events = events
        self.train_rows = {row.numpy().tobytes(): index for index, row in enumerate(train_x)}
        self.test_rows = {row.numpy().tobytes(): index for index, row in enumerate(test_x)}
        self.outputs: dict = {}   # storage address of each output -> the forward pass that made it
        self.passes = 0

    def forward(self, x):
        rows = [row.numpy().tobytes() for row in x.detach().cpu().float().reshape(x.shape[0], -1)]
        number, self.passes = self.passes, self.passes + 1
        self.events.append({"event": "forward", "index": number, "training": self.training,
                            "grad_enabled": bool(_IS_GRAD_ENABLED()),
                            "train_rows": [self.train_rows[r] for r in rows if r in self.train_rows],
                            "test_rows": [self.test_rows[r] for r in rows if r in self.test_rows]})
        output = self.out(_RELU(self.hidden(x)))
        self.outputs[output.untyped_storage().data_ptr()] = number
        return output


class LoggedLoss(nn.Module):
    """The cross-entropy, logging which forward pass's output it was given (None: not a model output)."""

    def __init__(self, events: list, model: ProbeModel) -> None:
        super().__init__()
        self.events, self.model = events, model

    def forward(self, logits, labels):
        source = self.model.outputs.get(logits.untyped_storage().data_ptr()) if isinstance(logits, torch.Tensor) else None
        self.events.append({"event": "loss", "forward": source})
        return _CROSS_ENTROPY(logits, labels)


class LoggedSGD(torch.optim.SGD):
    def __init__(self, params, events: list, lr: float) -> None:
        super().__init__(params, lr=lr)
        self.events = events

    def step(self, closure=None):
        self.events.append({"event": "step"})
        return super().step(closure)


def probe_loop(namespace: dict, spec: dict, epochs: int) -> dict:
    """Call the student's train_model on the probe problem; log the calls and keep the final weights."""
    train_model = namespace["train_model"]
    generator = _GENERATOR().manual_seed(spec["seed"])
    x = _RANDN(spec["samples"], 6, generator=generator)
    y = _RANDINT(0, 3, (spec["samples"],), generator=generator)
    x_test = _RANDN(spec["test_samples"], 6, generator=generator)
    y_test = _RANDINT(0, 3, (spec["test_samples"],), generator=generator)
    batch = spec["batch_size"]
    train_loader = _DATA_LOADER(_TENSOR_DATASET(x, y), batch_size=batch)
    test_loader = _DATA_LOADER(_TENSOR_DATASET(x_test, y_test), batch_size=batch)
    events = []
    _MANUAL_SEED(spec["seed"])
    model = ProbeModel(events, x, x_test)
    first = model.hidden.weight

    def on_backward(gradient):  # runs before the new gradient is added to first.grad
        stale = first.grad is not None and bool(first.grad.abs().sum() > 0)
        events.append({"event": "backward", "stale": stale})

    first.register_hook(on_backward)
    history = train_model(model, LoggedLoss(events, model), LoggedSGD(model.parameters(), events, spec["lr"]),
                          train_loader, test_loader, epochs)
    send_tensors(f"loop_{epochs}.pt", {k: v.detach().clone() for k, v in model.state_dict().items()})
    accuracies = history.get("test_acc") if isinstance(history, dict) else None
    if isinstance(accuracies, (list, tuple)):
        accuracies = [float(a) for a in accuracies]
    return {"events": events[:10000], "test_acc": accuracies}


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # helpers/ lies beside this file
    job = json.loads(sys.stdin.buffer.read())
    torch.set_num_threads(1)
    _MANUAL_SEED(job["seed"])
    report: dict = {}
    namespace: dict = {"__name__": "__main__"}
    namespace["get_ipython"] = lambda: IPythonShim(namespace)

    def phase(name: str, seconds: float = job["phase_seconds"]) -> Phase:
        return Phase(report, name, seconds, job["output_limit"], job["available_modules"])

    for cell in job["cells"]:
        with phase(f"cell {cell['id']}", job["cell_seconds"]):
            exec(compile(transform_magics(cell["code"]), f"<cell {cell['id']}>", "exec"), namespace)

    for key, model in job["models"].items():
        with phase(f"export {key}"):
            instance = namespace.get(model["variable"])
            if not isinstance(instance, nn.Module):
                raise NameError(f"{model['variable']} is not defined as an nn.Module")
            save_parameters(instance, key)
            export_model(instance, model["input"], job["batch_size"], key)
    for filters in job["other_filters"]:
        key = "cnn_" + "_".join(map(str, filters))
        with phase(f"build {key}"):
            save_parameters(namespace["CNN"](filters=tuple(filters)), key)
    with phase("criterion"):  # two phases: a broken loss does not hide the optimizer, nor the reverse
        report["criterion"] = record_criterion(namespace, job["seed"])
    with phase("optimizer"):
        report["optimizer"] = record_optimizer(namespace, job["seed"])
    report["loop"] = {}
    for epochs in job["loop"]["epochs"]:
        with phase(f"loop {epochs}"):
            report["loop"][str(epochs)] = probe_loop(namespace, job["loop"], epochs)
    report["complete"] = True
    send_report(report)
    _EXIT(0)  # at once: threads or workers the student's code left running do not hold the sandbox open


if __name__ == "__main__":
    main()
