"""Forgery: a notebook with no implementation earns no more than its literal answers.

Every point outside the three parameter-count answers rests on an effect the grader recomputes: the
graphs it runs itself, the loss and optimizer on inputs drawn from the notebook's hash, the probe
network's states along the loop (each epoch replayed) and returned accuracies. Student code shares the harness's process, so it can
rebind the harness, swap its code, write records of its own on the channel or read the job from memory.
Each attacker below does one of those, as a student who has read the whole repository would, without
implementing the models, the loss, the optimizer or the loop. Each keeps the three answer cells with
correct literal arithmetic, so anything above 6 points is an unearned point.
"""

from __future__ import annotations

import textwrap

import nbformat
import pytest
import torch

from autograder.context import MnistTensors
from autograder.engine import grade
from autograder.probes import accuracy, trajectory
from autograder.sandbox.harness.problems import probe_problem
from autograder.sandbox.isolation import IsolationUnavailable, choose_mode
from submissions import RELEASE, SOLUTION

pytestmark = pytest.mark.slow

ANSWER_CELLS = ("fc_params", "lenet_params", "cnn_params")
ANSWER_POINTS = 3 * 2
ANSWER_CHECK = "your answer: parameters of "


def code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# Classes that build and run but hold nothing of the assignment, so that the harness has models to export.
STUBS = {
    "fc_class": code("""
        class FC(nn.Module):
            def forward(self, x):
                return x[:, :10]
        """),
    "lenet_class": code("""
        class CNN_LeNet(nn.Module):
            def forward(self, x):
                return x.flatten(1)[:, :10]
        """),
    "cnn_class": code("""
        class CNN(nn.Module):
            def __init__(self, filters=(16, 32, 64)):
                super().__init__()

            def forward(self, x):
                return x.flatten(1)[:, :10]
        """),
}

PLAIN_SGD = '{"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}'
FC_SHAPES = "[(512, 784), (512,), (256, 512), (256,), (128, 256), (128,), (10, 128), (10,)]"

REBIND_HARNESS_FUNCTIONS = code(f"""
    import sys
    import __main__
    import torch
    from torch import nn

    runner = __main__.main.__globals__          # the harness's runner, reached from its entry point
    wire, contract = sys.modules["harness.wire"], sys.modules["harness.contract"]
    real_export = sys.modules["harness.exports"].export_model

    def forged_export(model, input_shape, batch, key, what):
        tiny = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.Size(input_shape).numel()), 10))
        real_export(tiny, input_shape, batch, key, what)

    def forged_criterion(namespace, seed):
        return {{"type": "torch.nn.modules.loss.CrossEntropyLoss", "value": 2.302585}}

    def forged_optimizer(namespace, seed):
        changes = {{f"{{step}}/{{i}}": -0.1 * torch.randn(shape) for step in (1, 2)
                   for i, shape in enumerate({FC_SHAPES})}}
        wire.send_tensors(contract.OPTIMIZER_STEP, changes)
        return {{"type": "torch.optim.sgd.SGD", "groups": [{PLAIN_SGD}]}}

    def forged_loop(namespace, seed, epochs):
        problems = sys.modules["harness.problems"]
        net = problems.ProbeNet()
        flat = problems.flat_state(net, problems.probe_optimizer(net))
        wire.send_tensors(contract.loop_trace_record(epochs), {{"states": torch.stack([flat, flat]),
                                                               "events": torch.tensor([[0, 0, 1], [2, 2, 1]])}})
        return {{"test_acc": [0.91 + 0.02 * epoch for epoch in range(epochs)]}}

    runner.update(export_model=forged_export, criterion_probe=forged_criterion, optimizer_probe=forged_optimizer)
    sys.modules["harness.runner"].loop_probe = forged_loop
    """)

# The replacements run with the harness modules' own globals (a function keeps its __globals__), so they
# use only names those modules define.
SWAP_CODE_OBJECTS = code(f"""
    import gc
    import types

    def forged_export(model, input_shape, batch, key, what):
        import math
        tiny = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 10)).eval()
        artifact = _SERIALIZE(_EXPORT(tiny, (_RAND(batch, *input_shape),)))
        for part in GRAPH_PARTS:
            send(graph_record(key, part), getattr(artifact, part))

    def forged_criterion(namespace, seed):
        return {{"type": "torch.nn.modules.loss.CrossEntropyLoss", "value": 2.302585}}

    def forged_optimizer(namespace, seed):
        changes = {{f"{{step}}/{{i}}": -0.1 * torch.randn(shape) for step in (1, 2)
                   for i, shape in enumerate({FC_SHAPES})}}
        send_tensors(OPTIMIZER_STEP, changes)
        return {{"type": "torch.optim.sgd.SGD", "groups": [{PLAIN_SGD}]}}

    def forged_loop(namespace, seed, epochs):
        net = probe_problem(seed, epochs).network()
        flat = flat_state(net, probe_optimizer(net))
        send_tensors(loop_trace_record(epochs), {{"states": torch.stack([flat, flat + 0.01]),
                                                  "events": torch.tensor([[0, 0, 1], [2, 2, 1]])}})
        return {{"test_acc": [0.93] * epochs}}

    swaps = {{"export_model": forged_export, "criterion_probe": forged_criterion,
             "optimizer_probe": forged_optimizer, "loop_probe": forged_loop}}
    swapped = 0
    for found in gc.get_objects():
        if isinstance(found, types.FunctionType) and found.__module__.startswith("harness.") \\
                and found.__name__ in swaps:
            found.__code__ = swaps[found.__name__].__code__
            swapped += 1
    assert swapped == 4, swapped
    """)


def channel_forgery(then: str) -> str:
    """A complete record set written on the channel by hand (graphs of one-layer models, a report that
    says every phase passed), then ``then`` to keep the harness's own records out."""
    return code(f"""
        import io, json, os, sys
        import torch
        from torch import nn
        from torch._export.serde.serialize import serialize

        def find_job():
            frame = sys._getframe()
            while frame is not None:
                job = frame.f_locals.get("job")
                if isinstance(job, dict) and "seed" in job:
                    return job
                frame = frame.f_back

        def record(name, data):
            view = memoryview(json.dumps({{"name": name, "size": len(data)}}).encode() + b"\\n" + data)
            while view:
                view = view[os.write(3, view):]

        def tensors(name, values):
            buffer = io.BytesIO()
            torch.save(values, buffer)
            record(name, buffer.getvalue())

        def graph(key, input_shape, batch):
            tiny = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.Size(input_shape).numel()), 10)).eval()
            artifact = serialize(torch.export.export(tiny, (torch.rand(batch, *input_shape),)))
            for part in ("exported_program", "state_dict", "constants", "example_inputs"):
                record(f"{{key}}.{{part}}", getattr(artifact, part))

        job = find_job()
        problems = sys.modules["harness.problems"]
        fine = {{"output": "", "output_dropped": 0, "seconds": 0.1}}
        phases = {{f"cell {{cell['id']}}": dict(fine) for cell in job["cells"]}}
        for key, model in job["models"].items():
            for batch, name in ((100, key), (problems.second_batch(job["seed"]), key + "_second")):
                graph(name, model["input"], batch)
                phases[f"export {{name}}"] = dict(fine)
        for filters in job["other_filters"]:
            name = "cnn_" + "_".join(map(str, filters))
            graph(name, [1, 28, 28], 100)
            phases[f"export {{name}}"] = dict(fine)
        for name in ("criterion", "optimizer", "loop 1", "loop 3"):
            phases[name] = dict(fine)
        tensors("optimizer_step.pt", {{f"{{step}}/{{i}}": -0.1 * torch.randn(shape) for step in (1, 2)
                                      for i, shape in enumerate({FC_SHAPES})}})
        for epochs in (1, 3):
            net = problems.probe_problem(job["seed"], epochs).network()
            flat = problems.flat_state(net, problems.probe_optimizer(net))
            tensors(f"loop_{{epochs}}_trace.pt", {{"states": torch.stack([flat, flat + 0.01 * torch.randn_like(flat)]),
                                                 "events": torch.tensor([[0, 0, 1], [2, 2, 1]])}})
        report = {{"phases": phases,
                  "criterion": {{"type": "torch.nn.modules.loss.CrossEntropyLoss", "value": 2.302585}},
                  "optimizer": {{"type": "torch.optim.sgd.SGD", "groups": [{PLAIN_SGD}]}},
                  "loop": {{"1": {{"test_acc": [0.93]}}, "3": {{"test_acc": [0.91, 0.93, 0.95]}}}},
                  "complete": True}}
        record("report.json", json.dumps(report).encode())
        {then}
        """)


NO_TRAINING = code("""
    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        \"\"\"Trains nothing; returns what a training run usually returns.\"\"\"
        return {"train_loss": [2.3 / (i + 1) for i in range(10 * epochs)],
                "test_acc": [0.91 + 0.02 * epoch for epoch in range(epochs)]}
    """)

HARD_CODED_WEIGHTS = code("""
    NUMBERS = [0.173, -0.402, 0.051, 0.298, -0.117, 0.364, -0.233, 0.089, -0.311, 0.142, 0.027, -0.186,
               0.251, -0.068, 0.319, -0.274, 0.106, -0.022, 0.207, -0.359, 0.133, 0.044, -0.148, 0.281]

    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        \"\"\"Writes fixed numbers into every parameter instead of training.\"\"\"
        numbers = torch.tensor(NUMBERS)
        with torch.no_grad():
            for parameter in model.parameters():
                tiled = numbers.repeat(parameter.numel() // len(NUMBERS) + 1)[:parameter.numel()]
                parameter.copy_(tiled.view_as(parameter))
        return {"train_loss": [], "test_acc": [0.42, 0.61, 0.75][:epochs]}
    """)

REBIND_MODULE_GLOBALS = code(f"""
    import sys
    import torch
    from torch import nn

    exports, wire, probes = (sys.modules[f"harness.{{name}}"] for name in ("exports", "wire", "probes"))
    real_export, real_save = exports._EXPORT, wire._SAVE

    class Other(nn.Module):
        \"\"\"The class exported in place of whatever the notebook's variables hold.\"\"\"

        def __init__(self, size):
            super().__init__()
            self.layer = nn.Linear(size, 10)

        def forward(self, x):
            return self.layer(x.flatten(1))

    def forged_export(model, args, **kwargs):
        return real_export(Other(args[0][0].numel()).eval(), args, **kwargs)

    def forged_save(value, buffer):
        if isinstance(value, dict):
            value = {{k: v - 0.05 * torch.ones_like(v) if v.is_floating_point() else v for k, v in value.items()}}
        return real_save(value, buffer)

    class NotAnOptimizer:
        param_groups = [{PLAIN_SGD}]

        def __init__(self, parameters):
            self.parameters = list(parameters)

        def step(self):
            for parameter in self.parameters:
                parameter.data.add_(0.01)

    exports._EXPORT, wire._SAVE = forged_export, forged_save
    probes._OPTIMIZER_BASE = probes._MODULE_BASE = object
    opt = NotAnOptimizer(model_fc.parameters())
    """)

PARAMETERS_OVERRIDDEN = code(f"""
    class FC(nn.Module):
        \"\"\"One Linear(784, 10) that lists the assignment's parameters when asked.\"\"\"

        def __init__(self):
            super().__init__()
            self.out = nn.Linear(784, 10)
            self.shown = {{f"fc{{i // 2 + 1}}.{{'bias' if i % 2 else 'weight'}}": nn.Parameter(torch.zeros(shape))
                          for i, shape in enumerate({FC_SHAPES})}}

        def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
            yield from self.shown.items()

        def parameters(self, recurse=True):
            for _, parameter in self.named_parameters():
                yield parameter

        def state_dict(self, *args, **kwargs):
            return {{name: parameter.detach() for name, parameter in self.shown.items()}}

        def forward(self, x):
            return self.out(x)
    """)

RIGHT_AT_BATCH_100 = code("""
    class FC(nn.Module):
        \"\"\"The assignment's layers, all touched at the export batch size, none chained.\"\"\"

        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
            self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

        def forward(self, x):
            if x.shape[0] == 100:
                return torch.zeros(100, 10) + 0 * sum(p.sum() for p in self.parameters())
            return x[:, :10]
    """)

ONE_LAYER_MODELS = {
    "fc_class": code("""
        class FC(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(784, 10)

            def forward(self, x):
                return self.fc(x)
        """),
    "lenet_class": code("""
        class CNN_LeNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 6, kernel_size=3, padding=1)
                self.fc = nn.Linear(6 * 14 * 14, 10)

            def forward(self, x):
                return self.fc(torch.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1))
        """),
    "cnn_class": code("""
        class CNN(nn.Module):
            def __init__(self, filters=(16, 32, 64)):
                super().__init__()
                self.conv = nn.Conv2d(1, filters[0], kernel_size=3, padding=1)
                self.fc = nn.Linear(filters[0] * 14 * 14, 10)

            def forward(self, x):
                return self.fc(torch.flatten(F.max_pool2d(F.relu(self.conv(x)), 2), 1))
        """),
}

ONE_BIG_PARAMETER = code("""
    class FC(nn.Module):
        \"\"\"Exactly 567434 parameters, in one tensor used elementwise.\"\"\"

        def __init__(self):
            super().__init__()
            self.values = nn.Parameter(torch.randn(567434) * 0.01)

        def forward(self, x):
            weights = self.values[:7840].view(10, 784)
            return (x.unsqueeze(1) * weights).sum(-1) + self.values[7840:].mean()
    """)

# The seed is found in memory; the SGD step of a made-up one-value parameter is sent on the channel, and
# `opt` is an object whose type is *named* torch.optim.sgd.SGD. There is no model_fc and no optimizer.
SEED_FROM_MEMORY = code("""
    import gc, io, json, os, sys
    import torch

    job = next(o for o in gc.get_objects() if isinstance(o, dict) and "seed" in o and "cells" in o)
    gradient = sys.modules["harness.problems"].optimizer_gradients(job["seed"], [(1,)])[0]
    buffer = io.BytesIO()
    torch.save({"1/0": -0.1 * gradient, "2/0": -0.1 * gradient}, buffer)
    data = buffer.getvalue()
    os.write(3, json.dumps({"name": "optimizer_step.pt", "size": len(data)}).encode() + b"\\n" + data)
    opt = type("SGD", (), {"__module__": "torch.optim.sgd"})()
    """)

# Layers of the assignment's sizes, each called once in the right order, but all except one on zeros:
# the data goes through a single linear layer.
DECOY_LAYERS = {
    "fc_class": code("""
        class FC(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1, self.fc2 = nn.Linear(784, 512), nn.Linear(512, 256)
                self.fc3, self.fc4 = nn.Linear(256, 128), nn.Linear(128, 10)

            def forward(self, x):
                seen = self.fc1(x)
                h2 = self.fc2(seen * 0)
                h3 = self.fc3(h2[:, :256] * 0)
                return self.fc4(h3 * 0) + seen[:, :10]
        """),
    "lenet_class": code("""
        class CNN_LeNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 6, kernel_size=3, padding=1)
                self.conv2 = nn.Conv2d(6, 16, kernel_size=3, padding=1)
                self.fc1, self.fc2, self.fc3 = nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)

            def forward(self, x):
                p1 = F.max_pool2d(self.conv1(x), 2)
                p2 = F.max_pool2d(self.conv2(p1 * 0), 2)
                seen = self.fc1(x.flatten(1) + 0 * p2.flatten(1))
                return self.fc3(self.fc2(seen * 0) * 0) + seen[:, :10]
        """),
    "cnn_class": code("""
        class CNN(nn.Module):
            def __init__(self, filters=(16, 32, 64)):
                super().__init__()
                self.conv1 = nn.Conv2d(1, filters[0], 3, padding=1)
                self.conv2 = nn.Conv2d(filters[0], filters[1], 3, padding=1)
                self.conv3 = nn.Conv2d(filters[1], filters[2], 3, padding=1)
                self.fc1, self.fc2 = nn.Linear(filters[2] * 9, 128), nn.Linear(128, 10)

            def forward(self, x):
                p1 = F.max_pool2d(self.conv1(x), 2)
                p2 = F.max_pool2d(self.conv2(p1 * 0), 2)
                p3 = F.max_pool2d(self.conv3(p2 * 0), 2)
                width = p3[0].numel()
                seen = self.fc1(x.flatten(1)[:, 100:100 + width] + 0 * p3.flatten(1))
                return self.fc2(seen * 0) + seen[:, :10]
        """),
}

# `job` and `report` are locals of the harness's main function, reachable from the stack: the forger
# pins the probe seed to one it solved at home and hands back the correct answers for that seed.
PIN_SEED_TEMPLATE = """
    import sys

    frame = sys._getframe()
    while "job" not in frame.f_locals:
        frame = frame.f_back
    frame.f_locals["job"]["seed"] = 0
    ANSWERS = {answers!r}

    def train_model(model, crit, opt, dl_tr, dl_te, epochs):
        \"\"\"Loads the weights a correct loop reaches on the seed-0 probe; trains nothing.\"\"\"
        weights, accuracies = ANSWERS[epochs]
        with torch.no_grad():
            for name, value in model.state_dict().items():
                if name in weights:
                    value.copy_(torch.tensor(weights[name]))
        return {{"train_loss": [], "test_acc": accuracies}}
"""


def pinned_seed_attack() -> str:
    """The seed-pinning attacker, with the answers for seed 0 worked out here, as at home."""
    answers = {}
    for epochs in (1, 3):
        problem = probe_problem(0, epochs)
        states = trajectory(problem, epochs)
        weights = {name: value.tolist() for name, value in states[epochs].items()}
        accuracies = [accuracy(problem, states[e]) for e in range(1, epochs + 1)]
        answers[epochs] = (weights, accuracies)
    return code(PIN_SEED_TEMPLATE.format(answers=answers))


# An optimizer subclass that reports itself as torch.optim.SGD with plain settings, but steps nowhere useful.
SPOOFED_OPTIMIZER_TYPE = code("""
    class SGD(torch.optim.Optimizer):
        __module__ = "torch.optim.sgd"

        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                          nesterov=False, maximize=False))

        def step(self, closure=None):
            for group in self.param_groups:
                for parameter in group["params"]:
                    parameter.data.add_(-0.1 * torch.ones_like(parameter))

    opt = SGD(model_fc.parameters())
    """)

FC_WITH_A_PARAMETER = code("""
    class FC(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(10))

        def forward(self, x):
            return x[:, :10] * self.scale
    """)


# name -> the answer cells it replaces (grade id -> source). Every attacker keeps the literal answers.
ATTACKERS = {
    "rebind_harness_functions": {**STUBS, "loss_opt": REBIND_HARNESS_FUNCTIONS},
    "swap_code_objects": {**STUBS, "loss_opt": SWAP_CODE_OBJECTS},
    "channel_then_exit": {"loss_opt": channel_forgery("os._exit(0)")},
    "channel_then_devnull": {"loss_opt": channel_forgery("os.dup2(os.open('/dev/null', os.O_WRONLY), 3)")},
    "no_training": {"train_model": NO_TRAINING},
    "hard_coded_weights": {"train_model": HARD_CODED_WEIGHTS},
    "rebind_module_globals": {**STUBS, "loss_opt": REBIND_MODULE_GLOBALS},
    "parameters_overridden": {"fc_class": PARAMETERS_OVERRIDDEN},
    "right_at_batch_100": {"fc_class": RIGHT_AT_BATCH_100},
    "one_layer_models": ONE_LAYER_MODELS,
    "one_big_parameter": {"fc_class": ONE_BIG_PARAMETER},
    "seed_from_memory": {"loss_opt": SEED_FROM_MEMORY},
    "decoy_layers": DECOY_LAYERS,
    "pinned_seed": {"train_model": None},  # filled in when built: the answers need PyTorch here
    "spoofed_optimizer_type": {"fc_class": FC_WITH_A_PARAMETER, "loss_opt": SPOOFED_OPTIMIZER_TYPE},
}

# Attackers that currently earn more than their answers: each is a hole in the grader, kept visible.
def build(base, folder, name: str, cells: dict[str, str | None], answers: bool = True):
    """``base`` with the answer cells in ``cells`` replaced (``None``: built here), and the three
    parameter-count answers copied from the solution when ``answers``."""
    nb = nbformat.read(base, as_version=4)
    solution = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(SOLUTION, as_version=4).cells
                if "nbgrader" in c.metadata}
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    replacements = {**({cell: solution[cell] for cell in ANSWER_CELLS} if answers else {}), **cells}
    for grade_id, source in replacements.items():
        assert by_id[grade_id].metadata["nbgrader"].get("solution"), f"{grade_id} is not an answer cell"
        by_id[grade_id].source = source if source is not None else pinned_seed_attack()
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def mnist():
    """MNIST for the whole module, handed out only once the solution has earned 100 with it: a grader or
    sandbox that scores nothing would otherwise let every attacker pass."""
    try:
        choose_mode("bubblewrap")
    except IsolationUnavailable as error:
        pytest.skip(f"bubblewrap is not available here: {error}")
    tensors = MnistTensors()
    tensors.load()
    verdict = graded(SOLUTION, tensors)
    assert verdict.score == verdict.max_score == 100, describe(verdict)
    return tensors


def describe(verdict) -> str:
    return "\n".join(f"{'ok  ' if c.passed else 'FAIL'} {c.name}: {c.score:g}/{c.max_score:g} {c.reason}"
                     for c in verdict.checks) + f"\naccuracies: {verdict.details.get('accuracies')}" \
        + "\nnotes: " + " | ".join(verdict.notes)


def graded(path, mnist):
    torch.set_num_threads(1)
    verdict = grade(path, mnist=mnist, isolation="bubblewrap")
    assert verdict.provenance["isolation"]["mode"] == "bubblewrap"
    return verdict


@pytest.mark.parametrize("name", list(ATTACKERS))
def test_forger_earns_only_its_answers(name, mnist, tmp_path):
    verdict = graded(build(RELEASE, tmp_path, name, ATTACKERS[name]), mnist)
    unearned = [c.name for c in verdict.checks if c.passed and not c.name.startswith(ANSWER_CHECK)]
    assert not unearned and verdict.score == ANSWER_POINTS, f"{name} scored {verdict.score:g}\n{describe(verdict)}"


def test_forger_without_answers_earns_nothing(mnist, tmp_path):
    """The channel forgery alone, with the answer cells left blank: nothing at all."""
    path = build(RELEASE, tmp_path, "channel_alone", ATTACKERS["channel_then_exit"], answers=False)
    verdict = graded(path, mnist)
    assert verdict.score == 0, describe(verdict)


def test_solution_copied_into_the_release_earns_everything(mnist, tmp_path):
    """The same construction as the attackers, with the solution's cells: proves the builder grades what
    it writes, so an attacker's low score is its own."""
    solution = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(SOLUTION, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("solution")}
    verdict = graded(build(RELEASE, tmp_path, "rebuilt", solution), mnist)
    assert verdict.score == 100, describe(verdict)

