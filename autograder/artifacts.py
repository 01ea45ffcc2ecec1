"""Safe loading of what the sandbox returned.

Nothing here unpickles arbitrary objects or evaluates strings: tensors are read with
``torch.load(weights_only=True)``, the exported graph's JSON is screened before torch's deserializer
sees it (fixed shapes only, allowed operators only), so a forged artifact can fail to load but cannot
run code in the grader.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch._export.serde.serialize import SerializedArtifact, deserialize

MAX_ARTIFACT_BYTES = 64 * 1024**2
MAX_CONSTANT_ELEMENTS = 64      # tensors baked into the graph: a few scalars, never a table of data
MAX_NODES = 200                 # the reference models have at most 25 operator calls
COST_FACTOR = 4                 # a graph may cost this many times the reference's compute and memory
# Buffers the grader knows how to reset (batch normalisation's statistics); any other buffer is state
# the architecture does not need, and refuses the graph.
RESETTABLE_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")

ALLOWED_OPERATORS = {
    "aten.conv2d", "aten.linear", "aten.relu", "aten.relu_", "aten.max_pool2d", "aten.avg_pool2d",
    "aten.adaptive_avg_pool2d", "aten.view", "aten.reshape", "aten.flatten", "aten._unsafe_view",
    "aten.permute", "aten.contiguous", "aten.clone", "aten.t", "aten.addmm", "aten.mm", "aten.matmul",
    "aten.add", "aten.add_", "aten.sub", "aten.mul", "aten.div", "aten.sigmoid", "aten.tanh",
    "aten.softmax", "aten._softmax", "aten.log_softmax", "aten._log_softmax", "aten.dropout",
    "aten.leaky_relu", "aten.gelu", "aten.elu", "aten.hardtanh", "aten.silu", "aten.batch_norm",
    "aten._native_batch_norm_legit_no_training", "aten.squeeze", "aten.unsqueeze", "aten.cat",
    "aten.sym_size", "aten.alias", "aten.detach", "aten.detach_", "aten.expand", "aten.transpose", "aten.max_pool2d_with_indices",
    "aten.sum", "aten.mean", "aten.neg", "aten.exp", "aten.log", "aten.pow", "aten.select", "aten.slice",
    "aten.lift_fresh_copy", "aten._to_copy", "aten.to", "aten.type_as",
}


class ArtifactError(Exception):
    """An artifact is missing, too large or not what the harness writes."""


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``{name: tensor}`` file saved by the harness, read without unpickling objects."""
    if not path.is_file():
        raise ArtifactError(f"{path.name} was not produced")
    if path.stat().st_size > MAX_ARTIFACT_BYTES:
        raise ArtifactError(f"{path.name} is too large")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means a forged or broken file
        raise ArtifactError(f"{path.name} is not a tensor file ({type(error).__name__})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()):
        raise ArtifactError(f"{path.name} does not hold named tensors")
    return data


def _walk(node, key=None):
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield child_key, child
            yield from _walk(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child, key)


def _screen_graph(raw: bytes) -> None:
    """Reject symbolic shapes (their expressions are parsed by sympy), operators off the list and
    oversized graphs, before torch's deserializer sees the graph."""
    try:
        graph = json.loads(raw)
    except (ValueError, RecursionError):
        raise ArtifactError("the exported graph is not JSON") from None
    calls = 0
    for key, value in _walk(graph):
        if key in ("as_expr", "sym_int_values", "sym_bool_values", "sym_float_values") and value:
            raise ArtifactError("the exported graph has symbolic shapes")
        if key == "target" and isinstance(value, str) and value.startswith("torch.ops."):
            calls += 1
            operator = value[len("torch.ops."):].rsplit(".", 1)[0]
            if operator not in ALLOWED_OPERATORS:
                raise ArtifactError(f"the model uses an operation the grader does not run: {operator}")
        elif key == "target" and isinstance(value, str) and not value.startswith(("_operator.", "torch.")):
            raise ArtifactError(f"the exported graph calls {value!r}")
    if calls > MAX_NODES:
        raise ArtifactError(f"the model's graph has {calls} operations; the grader runs at most {MAX_NODES}")


def _screen_state(program: torch.export.ExportedProgram) -> None:
    """Every tensor the graph carries is a parameter (re-initialised before training), a batch-norm
    statistic (reset), or a few constant values; anything else could carry answers, not architecture."""
    signature = program.graph_signature
    if signature.inputs_to_lifted_custom_objs:
        raise ArtifactError("the model carries script objects in its graph")
    for name in signature.inputs_to_buffers.values():
        if name.rsplit(".", 1)[-1] not in RESETTABLE_BUFFERS:
            raise ArtifactError(f"the model keeps state in the buffer {name!r}, which the architecture does not "
                                "need (weights belong in nn.Parameter; constants can be computed in forward)")
    constants = sum(program.constants[name].numel() for name in signature.inputs_to_lifted_tensor_constants.values()
                    if isinstance(program.constants.get(name), torch.Tensor))
    if constants > MAX_CONSTANT_ELEMENTS:
        raise ArtifactError(f"the model carries {constants} constant values baked into its graph "
                            f"(at most {MAX_CONSTANT_ELEMENTS} are accepted)")


@dataclass(frozen=True)
class GraphCost:
    """What running a graph once costs, from its shape metadata alone (nothing is executed)."""

    flops: int           # multiply-adds count twice; other operators one per element touched
    elements: int        # values produced by all operators together: the memory autograd keeps

    def exceeds(self, limit: "GraphCost") -> bool:
        return self.flops > limit.flops or self.elements > limit.elements


def _numel(value) -> int:
    if isinstance(value, (tuple, list)):
        return sum(map(_numel, value))
    return int(value.numel()) if hasattr(value, "numel") else 0


def graph_cost(program: torch.export.ExportedProgram) -> GraphCost:
    flops = elements = 0
    for node in program.graph.nodes:
        if node.op != "call_function":
            continue
        produced = _numel(node.meta.get("val"))
        inputs = [argument.meta.get("val") for argument in node.args if hasattr(argument, "meta")]
        name = str(node.target).split(".")[1] if str(node.target).startswith("aten.") else str(node.target)
        if name in ("conv2d", "convolution") and len(inputs) > 1:
            flops += 2 * produced * _numel(inputs[1]) // max(1, int(inputs[1].shape[0]))
        elif name in ("linear", "mm", "matmul", "bmm", "addmm") and len(inputs) > 1:
            left = inputs[1] if name == "addmm" else inputs[0]  # addmm(bias, x, w)
            flops += 2 * produced * int(left.shape[-1]) if left.dim() else produced
        else:
            flops += max(produced, sum(map(_numel, inputs)))
        elements += produced
    return GraphCost(flops, elements)


@dataclass
class ExportedModel:
    """A student's model as a graph of PyTorch operators, with its parameters."""

    program: torch.export.ExportedProgram

    def module(self) -> torch.nn.Module:
        return self.program.module()

    def parameters_in_use_order(self) -> list[str]:
        """Parameter names in the order the graph's conv/linear calls use them (weight, then bias)."""
        lifted = self.program.graph_signature.inputs_to_parameters
        order = []
        for node in self.program.graph.nodes:
            if node.op == "call_function":
                for argument in node.args:
                    name = lifted.get(getattr(argument, "name", None))
                    if name is not None and name not in order:
                        order.append(name)
        return order

    def layer_shapes(self, kinds: dict[str, str]) -> list[tuple[str, tuple[int, ...]]]:
        """(layer kind, per-sample output shape) of every call of the operators in ``kinds`` (operator
        name -> kind reported), in order."""
        shapes = []
        for node in self.program.graph.nodes:
            if node.op != "call_function":
                continue
            kind = str(node.target).split(".")[1] if str(node.target).startswith("aten.") else str(node.target)
            value = node.meta.get("val")
            if isinstance(value, (tuple, list)):  # max_pool2d_with_indices
                value = value[0]
            kind = kind.rstrip("_").replace("_with_indices", "")
            if kind in kinds and hasattr(value, "shape"):
                shapes.append((kinds[kind], tuple(int(s) for s in value.shape[1:])))
        return shapes


def load_exported(folder: Path, key: str, budget: GraphCost) -> ExportedModel:
    """Load ``<key>.*`` sent by the harness's export, after screening every piece; refuse a graph that
    costs more than ``COST_FACTOR`` times ``budget`` (the reference's cost) to run."""
    parts = {}
    for part in ("exported_program", "state_dict", "constants", "example_inputs"):
        path = folder / f"{key}.{part}"
        if not path.is_file():
            raise ArtifactError(f"no exported graph ({path.name} missing)")
        if path.stat().st_size > MAX_ARTIFACT_BYTES:
            raise ArtifactError(f"{path.name} is too large")
        parts[part] = path.read_bytes()
    _screen_graph(parts["exported_program"])
    for part in ("state_dict", "constants", "example_inputs"):
        if parts[part]:
            try:
                torch.load(io.BytesIO(parts[part]), map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001
                raise ArtifactError(f"the exported {part} is not plain tensors") from None
    if parts["constants"]:
        constants = torch.load(io.BytesIO(parts["constants"]), map_location="cpu", weights_only=True)
        size = sum(v.numel() for v in constants.values() if isinstance(v, torch.Tensor)) if isinstance(constants, dict) else 0
        if size > MAX_CONSTANT_ELEMENTS:
            raise ArtifactError(f"the model carries {size} constant values baked into its graph")
    try:
        program = deserialize(SerializedArtifact(**parts))
    except Exception as error:  # noqa: BLE001
        raise ArtifactError(f"the exported graph could not be loaded ({type(error).__name__})") from None
    _screen_state(program)
    cost = graph_cost(program)
    limit = GraphCost(budget.flops * COST_FACTOR, budget.elements * COST_FACTOR)
    if cost.exceeds(limit):
        raise ArtifactError(f"the model's graph costs {cost.flops / budget.flops:.1f}x the computation and "
                            f"{cost.elements / budget.elements:.1f}x the memory of the intended network; the grader "
                            f"runs at most {COST_FACTOR}x")
    return ExportedModel(program)
