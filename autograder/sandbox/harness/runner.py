"""The order of the harness's work: the notebook's cells, then the exports, then the probes. Every step
is a phase of its own, so a failure costs the checks that need that step and no others."""

from __future__ import annotations

import json
import os
import sys

import torch

from .contract import EXPORT_BATCH, LOOP_EPOCHS, STARTED, filters_key, second_key
from .exports import export_model
from .notebook import fresh_namespace, run_cell
from .phases import Phase
from .probes import criterion_probe, loop_probe, optimizer_probe
from .problems import second_batch
from .sharing import tensors_by_value
from .syscalls import install_or_exit
from .wire import send, send_report

_EXIT = os._exit


def main() -> None:
    job = json.loads(sys.stdin.buffer.read())
    install_or_exit()
    send(STARTED, b"")
    torch.set_num_threads(1)
    tensors_by_value()
    torch.manual_seed(job["seed"])
    report: dict = {}
    namespace = fresh_namespace()

    def phase(name: str, seconds: float = job["phase_seconds"]) -> Phase:
        return Phase(report, name, seconds, job["output_limit"], job["available_modules"])

    for cell in job["cells"]:
        with phase(f"cell {cell['id']}", job["cell_seconds"]):
            run_cell(cell["code"], cell["id"], namespace)
    for key, model in job["models"].items():
        for batch, record in ((EXPORT_BATCH, key), (second_batch(job["seed"]), second_key(key))):
            if record != key and report["phases"][f"export {key}"].get("error"):
                continue  # a model that could not be traced once is not tried again (a hanging forward costs once)
            with phase(f"export {record}"):
                if model["variable"] not in namespace:
                    raise NameError(f"{model['variable']} is not defined")
                export_model(namespace[model["variable"]], model["input"], batch, record, model["variable"])
    for filters in job["other_filters"]:
        with phase(f"export {filters_key(filters)}"):
            export_model(namespace["CNN"](filters=tuple(filters)), job["models"]["cnn"]["input"], EXPORT_BATCH,
                         filters_key(filters), f"CNN(filters={tuple(filters)})")
    with phase("criterion"):  # two phases: a broken loss does not hide the optimizer, nor the reverse
        report["criterion"] = criterion_probe(namespace, job["seed"])
    with phase("optimizer"):
        report["optimizer"] = optimizer_probe(namespace, job["seed"])
    report["loop"] = {}
    for epochs in LOOP_EPOCHS:
        with phase(f"loop {epochs}"):
            report["loop"][str(epochs)] = loop_probe(namespace, job["seed"], epochs)
    report["complete"] = True
    send_report(report)
    _EXIT(0)  # at once: threads or workers the student's code left running do not hold the sandbox open
