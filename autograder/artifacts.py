"""Safe loading of what the sandbox returned.

Nothing here unpickles arbitrary objects or evaluates strings: tensors are read with
``torch.load(weights_only=True)``, the exported graph's JSON is screened before torch's deserializer
sees it (fixed shapes only, allowed operators only), so a forged artifact can fail to load but cannot
run code in the grader.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch._export.serde.serialize import SerializedArtifact, deserialize
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.export.graph_signature import InputKind
from torch.fx.passes.fake_tensor_prop import FakeTensorProp

from .operators import RANDOM_BUT_OFF, node_cost, numel, operator_name, refusal

MAX_ARTIFACT_BYTES = 64 * 1024**2
MAX_CONSTANT_ELEMENTS = 64      # tensors baked into the graph: a few scalars, never a table of data
MAX_NODES = 200                 # the reference models have at most 25 operator calls
COST_FACTOR = 4                 # a graph may cost this many times the reference's compute and memory
# Buffers the grader knows how to reset (batch normalisation's statistics); any other buffer is state
# the architecture does not need, and refuses the graph.
RESETTABLE_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")

OPERATOR_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")


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
    _require_dense(data.values(), path.name)
    return data


def _require_dense(tensors, what: str) -> None:
    """Every tensor holds its own values: a view that repeats a few stored values (``expand``) would
    make any later copy of it as large as it claims to be, far beyond what the file held."""
    for tensor in tensors:
        if not tensor.is_contiguous() or tensor.untyped_storage().nbytes() < tensor.numel() * tensor.element_size():
            raise ArtifactError(f"{what} holds a tensor that is a view of fewer values than it claims")


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
    try:
        items = list(_walk(graph))
    except RecursionError:
        raise ArtifactError("the exported graph is nested too deeply") from None
    for key, value in items:
        if key in ("as_expr", "sym_int_values", "sym_bool_values", "sym_float_values") and value:
            raise ArtifactError("the exported graph has symbolic shapes")
        if key != "target" or not isinstance(value, str):
            continue
        calls += 1
        if value == "_operator.getitem":
            continue
        operator_name, _, overload = value.removeprefix("torch.ops.aten.").partition(".")
        if not value.startswith("torch.ops.aten.") or not OPERATOR_NAME.fullmatch(operator_name) \
                or not OPERATOR_NAME.fullmatch(overload):
            raise ArtifactError(f"the exported graph calls {value[:80]!r}, which the grader does not run")
        resolved = getattr(getattr(torch.ops.aten, operator_name, None), overload, None)
        reason = refusal(resolved) if resolved is not None else f"aten.{operator_name}.{overload}, which PyTorch does not know"
        if reason:
            raise ArtifactError(f"the model uses {reason}")
    if calls > MAX_NODES:
        raise ArtifactError(f"the model's graph has {calls} operations; the grader runs at most {MAX_NODES}")


def _screen_state(program: torch.export.ExportedProgram) -> None:
    """Every tensor the graph carries is a parameter (re-initialised before training), a batch-norm
    statistic (reset), or a few constant values; anything else could carry answers, not architecture.
    All of them hold their own values, so their size is bounded by the files they came in."""
    _require_dense([t for t in [*program.state_dict.values(), *program.constants.values()] if isinstance(t, torch.Tensor)],
                   "the exported model")
    signature = program.graph_signature
    if signature.inputs_to_lifted_custom_objs:
        raise ArtifactError("the model carries script objects in its graph")
    for name in signature.inputs_to_buffers.values():
        if name.rsplit(".", 1)[-1] not in RESETTABLE_BUFFERS:
            raise ArtifactError(f"the model keeps state in the buffer {name!r}, which the architecture does not "
                                "need (weights belong in nn.Parameter; constants can be computed in forward)")
    if signature.buffers_to_mutate or signature.user_inputs_to_mutate:
        raise ArtifactError("the model's forward pass changes its own state or its input")
    for node in program.graph.nodes:
        if node.op not in ("placeholder", "call_function", "output"):
            raise ArtifactError(f"the exported graph holds a {node.op} node, which the grader does not run")
        if node.op == "call_function":
            reason = refusal(node.target)
            if reason:
                raise ArtifactError(f"the model uses {reason}")
            if operator_name(node.target) in RANDOM_BUT_OFF and len(node.args) > 2 and node.args[2]:
                raise ArtifactError("the model's dropout was exported in training mode: it would draw random numbers")
    constants = sum(program.constants[name].numel() for name in signature.inputs_to_lifted_tensor_constants.values()
                    if isinstance(program.constants.get(name), torch.Tensor))
    if constants > MAX_CONSTANT_ELEMENTS:
        raise ArtifactError(f"the model carries {constants} constant values baked into its graph "
                            f"(at most {MAX_CONSTANT_ELEMENTS} are accepted)")


@dataclass(frozen=True)
class GraphCost:
    """What running a graph once costs, from its shapes alone (nothing is executed)."""

    flops: int           # multiply-adds count twice; other operators one per element touched
    elements: int        # values produced by all operators together: the memory autograd keeps

    def exceeds(self, limit: "GraphCost") -> bool:
        return self.flops > limit.flops or self.elements > limit.elements


def graph_cost(program: torch.export.ExportedProgram) -> GraphCost:
    """From the shapes the grader propagated itself (``_propagate_shapes``), never from the metadata
    that came with the graph."""
    flops = elements = 0
    for node in program.graph.nodes:
        if node.op == "call_function":
            flops += node_cost(node)
            elements += numel(node.meta.get("val"))
    return GraphCost(flops, elements)


def _propagate_shapes(program: torch.export.ExportedProgram, input_shape: tuple[int, ...], batch: int) -> None:
    """Recompute every node's shape from the real parameter tensors and the grader's own input, so that
    no shape the cost or the checks rely on comes from the submission's metadata."""
    real = []
    for spec in program.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            real.append(torch.zeros(batch, *input_shape))
            continue
        tensor = program.state_dict.get(spec.target, program.constants.get(spec.target))
        if spec.kind not in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR) \
                or not isinstance(tensor, torch.Tensor):
            raise ArtifactError("the exported graph takes an input the grader does not provide")
        real.append(tensor)
    if sum(spec.kind == InputKind.USER_INPUT for spec in program.graph_signature.input_specs) != 1:
        raise ArtifactError("the exported graph does not take exactly one input")
    try:
        FakeTensorProp(program.graph_module, FakeTensorMode()).propagate(*real)
    except Exception as error:  # noqa: BLE001 - any failure: the graph does not hold together
        raise ArtifactError(f"the exported graph's shapes do not add up ({type(error).__name__})") from None


@dataclass
class ExportedModel:
    """A student's model as a graph of PyTorch operators, with its parameters."""

    program: torch.export.ExportedProgram

    def module(self) -> torch.nn.Module:
        return self.program.module()

    def affine_layers(self) -> list[dict]:
        """The convolutions and linear layers in the order the forward pass calls them: their parameter
        names and, for convolutions, stride, padding, dilation and groups as the student set them."""
        lifted = self.program.graph_signature.inputs_to_parameters
        layers = []
        for node in self.program.graph.nodes:
            name = str(node.target)
            if node.op != "call_function" or name not in ("aten.conv2d.default", "aten.linear.default"):
                continue
            names = [lifted.get(getattr(argument, "name", None)) for argument in node.args[1:3]]
            if names[0] is None:
                raise ArtifactError("a layer of the model uses a weight that is not a parameter")
            layer = {"kind": "conv" if "conv" in name else "linear", "weight": names[0],
                     "bias": names[1] if len(names) > 1 else None}
            if layer["kind"] == "conv":
                stride, padding, dilation, groups = (list(node.args[3:]) + [1, 0, 1, 1][len(node.args[3:]):])[:4]
                layer.update(stride=stride, padding=padding, dilation=dilation, groups=groups)
            layers.append(layer)
        return layers

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


def load_exported(folder: Path, key: str, budget: GraphCost, input_shape: tuple[int, ...], batch: int) -> ExportedModel:
    """Load ``<key>.*`` sent by the harness's export, after screening every piece; recompute its shapes
    for ``batch`` inputs of ``input_shape``; refuse a graph that costs more than ``COST_FACTOR`` times
    ``budget`` (the reference's cost at that batch) to run."""
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
    _propagate_shapes(program, tuple(input_shape), batch)
    cost = graph_cost(program)
    limit = GraphCost(budget.flops * COST_FACTOR, budget.elements * COST_FACTOR)
    if cost.exceeds(limit):
        raise ArtifactError(f"the model's graph costs {cost.flops / budget.flops:.1f}x the computation and "
                            f"{cost.elements / budget.elements:.1f}x the memory of the intended network; the grader "
                            f"runs at most {COST_FACTOR}x")
    return ExportedModel(program)
