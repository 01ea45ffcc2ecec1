"""The path the data takes through an exported graph, from its input to its output.

The structure checks read layers along this path only: a layer that the graph calls but whose result
never reaches the output (a decoy of the right size, fed zeros or left aside) is not part of the
network, and a path that mixes in a second computation (``x * 0``, a sum of two branches) is not the
intended chain. Along the path, every step takes exactly one value derived from the input; what it
takes besides (weights, constants) does not depend on the input.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch.export.graph_signature import InputKind
from torch.fx import Node

from .operators import operator_name

# What the intended networks may do to the data between input and output (any overload, in place or not):
# their layers, activations written in any common way, pooling, reshaping, and what torch.export adds.
ALONG_THE_PATH = {
    "conv2d", "linear", "relu", "relu_", "clamp", "clamp_", "clamp_min", "clamp_min_", "maximum", "threshold",
    "max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "flatten", "view", "reshape", "_unsafe_view",
    "permute", "contiguous", "clone", "to", "_to_copy", "dropout", "feature_dropout", "batch_norm", "detach",
    "alias", "squeeze", "unsqueeze", "getitem",
}
AFFINE = {"conv2d": "conv", "linear": "linear"}


@dataclass(frozen=True)
class DataPath:
    """The steps from the input to the output, in order; ``problem`` says why there is no such path."""

    steps: tuple[Node, ...] = ()
    problem: str | None = None


def _name(node: Node) -> str:
    return "getitem" if node.target is operator.getitem else operator_name(node.target)


def _inputs(node: Node) -> list[Node]:
    found: list[Node] = []

    def keep(value: Node) -> Node:
        found.append(value)
        return value

    torch.fx.node.map_arg((node.args, node.kwargs), keep)
    return found


def data_path(program: torch.export.ExportedProgram, what: str) -> DataPath:
    """The path of ``program``'s one user input to its one output (``what`` names the model in reasons)."""
    user_inputs = {spec.arg.name for spec in program.graph_signature.input_specs if spec.kind == InputKind.USER_INPUT}
    derived: set[Node] = set()
    output = None
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            derived.add(node)
        elif node.op == "output":
            output = node
        elif any(value in derived for value in _inputs(node)):
            derived.add(node)
    results = list(output.args[0]) if output is not None and isinstance(output.args[0], (tuple, list)) else []
    if len(results) != 1 or not isinstance(results[0], Node) or results[0] not in derived:
        return DataPath(problem=f"{what} should return one tensor computed from its input")
    steps, current = [], results[0]
    while current.op != "placeholder":
        name = _name(current) if current.op == "call_function" else current.op
        if name not in ALONG_THE_PATH:
            return DataPath(problem=f"{what} applies {name} on the way from its input to its output, which the "
                                    "intended network does not")
        carried = [value for value in _inputs(current) if value in derived]
        if len(carried) != 1:
            return DataPath(problem=f"{what} combines {len(carried)} computations from its input in one step "
                                    f"({name}); the intended network is a single chain of layers")
        steps.append(current)
        current = carried[0]
    on_path = set(steps)
    stray = [node for node in program.graph.nodes
             if node.op == "call_function" and _name(node) in AFFINE and node not in on_path]
    if stray:
        return DataPath(problem=f"{what} has {len(stray)} layer(s) whose result never reaches its output")
    return DataPath(tuple(reversed(steps)))


def parameters_on(path: DataPath, program: torch.export.ExportedProgram) -> set[str]:
    """The parameters the steps of ``path`` compute with."""
    lifted = program.graph_signature.inputs_to_parameters
    return {lifted[value.name] for step in path.steps for value in _inputs(step) if value.name in lifted}


def affine_kinds(path: DataPath) -> list[str]:
    """``conv`` or ``linear`` for each layer along the path, in order."""
    return [AFFINE[_name(step)] for step in path.steps if _name(step) in AFFINE]
