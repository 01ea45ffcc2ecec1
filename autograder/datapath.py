"""The path the data takes through an exported graph, from its input to its output.

The structure checks read layers along this path only: a layer that the graph calls but whose result
never reaches the output (a decoy of the right size, left aside) is not part of the network, and a path
that mixes in a second computation (a sum of two branches) is not the intended chain. Along the path,
every step takes exactly one value derived from the input; what it takes besides (weights, constants)
does not depend on the input. Parameter-free operations value by value on one value of the path (a ReLU
written by hand as ``x * (x > 0)``, or ``x * 0``) are one step, an activation the function check judges.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.export.graph_signature import InputKind
from torch.fx import Node

from .operators import operator_name, written

# What the intended networks may do to the data between input and output (any overload, in place or not):
# their layers, pooling, reshaping, and what torch.export adds. The activation is the function check's
# business, so any common one may stand where ReLU belongs; a normalisation layer may stand on the path
# too, but it is a layer the assignment does not ask for (``unintended_steps``).
ACTIVATIONS = {
    "relu", "clamp", "clamp_min", "maximum", "threshold", "hardtanh", "relu6", "leaky_relu", "elu", "selu", "celu",
    "gelu", "silu", "mish", "sigmoid", "tanh", "hardswish", "hardsigmoid", "softplus", "log_sigmoid",
    "log_sigmoid_forward", "softmax", "log_softmax", "_softmax", "_log_softmax",
}
NORMALISATIONS = {
    "batch_norm", "native_batch_norm", "_native_batch_norm_legit", "_native_batch_norm_legit_no_training",
    "layer_norm", "native_layer_norm", "group_norm", "native_group_norm", "instance_norm",
}
ALONG_THE_PATH = ACTIVATIONS | NORMALISATIONS | {
    "conv2d", "linear", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d", "flatten", "view", "reshape",
    "_unsafe_view", "permute", "contiguous", "clone", "to", "_to_copy", "dropout", "feature_dropout", "detach",
    "alias", "squeeze", "unsqueeze", "getitem",
}
AFFINE = {"conv2d": "conv", "linear": "linear"}
# Parameter-free operations that act value by value. Fed from one value of the path, a group of them is
# an activation written by hand (``x * (x > 0)``, ``torch.where(x > 0, x, 0)``, ``(x + x.abs()) / 2``),
# one step of the path, which the function check judges like any other activation.
POINTWISE = ACTIVATIONS | {
    "mul", "add", "sub", "div", "neg", "abs", "sign", "maximum", "minimum", "where", "masked_fill", "gt", "ge",
    "lt", "le", "eq", "ne", "logical_and", "logical_or", "logical_not", "zeros_like", "ones_like", "full_like",
    "to", "_to_copy", "type_as", "square", "sqrt", "exp", "pow",
}


@dataclass(frozen=True)
class DataPath:
    """The steps from the input to the output, in order; ``problem`` says why there is no such path."""

    steps: tuple[Node, ...] = ()
    problem: str | None = None
    besides: tuple[tuple[Node, ...], ...] = ()   # what each step takes besides the value derived from the input


def _name(node: Node) -> str:
    """The operator's name, in-place or not (``relu`` for ``aten.relu_``)."""
    if node.target is operator.getitem:
        return "getitem"
    name = operator_name(node.target)
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name


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
    behind = _state_behind(program)
    problem = _hidden_writes(program, derived, behind, what)
    if problem:
        return DataPath(problem=problem)
    steps: list[Node] = []
    takes: list[tuple[Node, ...]] = []
    current = results[0]
    while current.op != "placeholder":
        name = _name(current) if current.op == "call_function" else current.op
        carried = [value for value in _inputs(current) if value in derived]
        besides = [value for value in _inputs(current) if value not in derived]
        if name not in ALONG_THE_PATH or len(carried) != 1:
            sources, besides_group = _pointwise_group(current, derived)
            if len(sources) == 1 and not _state_of(behind, besides_group):
                steps.append(current)
                takes.append(tuple(besides_group))
                current = sources.pop()
                continue
            besides += besides_group
        state = _state_of(behind, besides)
        if name not in ALONG_THE_PATH:
            return DataPath(problem=f"{what} applies {name}{state} on the way from its input to its output, "
                                    "which the intended network does not")
        if len(carried) != 1:
            return DataPath(problem=f"{what} combines {len(carried)} computations from its input in one step "
                                    f"({name}{state}); the intended network is a single chain of layers")
        steps.append(current)
        takes.append(tuple(besides))
        current = carried[0]
    on_path = set(steps)
    stray = [node for node in program.graph.nodes
             if node.op == "call_function" and _name(node) in AFFINE and node not in on_path]
    if stray:
        return DataPath(problem=f"{what} has {len(stray)} layer(s) whose result never reaches its output")
    return DataPath(tuple(reversed(steps)), besides=tuple(reversed(takes)))


def _hidden_writes(program: torch.export.ExportedProgram, derived: set[Node], behind: dict[Node, frozenset[str]],
                   what: str) -> str | None:
    """Why a write in place could carry what this analysis does not follow, or None. Values are followed
    from node to node, but a write changes a value that later nodes read through the node that made it:
    so a write may only go into a value computed from the input, and bring in no parameter or buffer that
    value was not already computed from (``relu_``, ``mul_`` by a constant, ``x.mul_(x.sigmoid())``)."""
    for node in program.graph.nodes:
        targets = written(node)
        if not targets:
            continue
        if any(target not in derived for target in targets):
            return f"{what} writes in place ({_name(node)}) into a value not computed from its input"
        had = frozenset().union(*(behind[target] for target in targets))
        brought = frozenset().union(*(behind[value] for value in _inputs(node) if value not in targets)) - had
        if brought:
            return f"{what} writes {', '.join(sorted(brought))} in place ({_name(node)}) into a value on its way"
    return None


def _is_pointwise(node: Node) -> bool:
    if node.op != "call_function":
        return False
    name = _name(node)
    if name in ("max", "min"):   # value by value only between two tensors; otherwise a reduction
        return getattr(node.target, "_overloadname", "") == "other"
    return name in POINTWISE


def _pointwise_group(node: Node, derived: set[Node]) -> tuple[set[Node], list[Node]]:
    """The values derived from the input that ``node`` computes from through ``POINTWISE`` operations
    alone, and what those operations take besides (weights, constants); none when ``node`` is no such
    operation."""
    sources: set[Node] = set()
    besides: list[Node] = []
    seen: set[Node] = set()
    pending = [node] if _is_pointwise(node) else []
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if current is not node and not _is_pointwise(current):
            sources.add(current)
            continue
        besides += [value for value in _inputs(current) if value not in derived]
        pending += [value for value in _inputs(current) if value in derived]
    return sources, besides


def _state_behind(program: torch.export.ExportedProgram) -> dict[Node, frozenset[str]]:
    """The parameters and buffers (by their names in the model) each node's value is computed from."""
    signature = program.graph_signature
    names = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    behind: dict[Node, frozenset[str]] = {}
    for node in program.graph.nodes:
        found = {names[node.name]} if node.op == "placeholder" and node.name in names else set()
        behind[node] = frozenset(found.union(*(behind.get(value, frozenset()) for value in _inputs(node))))
    return behind


def _state_of(behind: dict[Node, frozenset[str]], values: Sequence[Node]) -> str:
    """`` with a, b`` for the parameters and buffers behind ``values``; empty for none."""
    names = sorted(set().union(*(behind[value] for value in values)))
    return f" with {', '.join(names)}" if names else ""


def _others(path: DataPath) -> list[tuple[Node, tuple[Node, ...]]]:
    """Each step with what it takes besides the value derived from the input."""
    return list(zip(path.steps, path.besides, strict=True))


def unintended_steps(path: DataPath, program: torch.export.ExportedProgram) -> list[str]:
    """What along ``path`` is no part of the assignment's networks, described for the student: a
    normalisation layer (with or without parameters), any other step but a convolution or a linear layer
    that computes with parameters or buffers (an activation with weights, an extra bias), and a layer
    whose weight or bias is not a parameter of its own. A normalisation in eval mode, or
    ``torch.maximum(x, p)``, can be the identity under one choice of weights: they are refused by kind,
    never judged by what they compute."""
    parameters, behind = program.graph_signature.inputs_to_parameters, _state_behind(program)
    found = []
    for step, others in _others(path):
        name = _name(step)
        state = _state_of(behind, others)
        if name in AFFINE:
            if any(value.name not in parameters for value in others):
                found.append(f"a {name} layer whose weight or bias is not a parameter of its own")
        elif name in NORMALISATIONS:
            found.append(f"a normalisation layer ({name}{state})")
        elif state:
            found.append(f"{name}{state}")
    return found


def layer_parameters(path: DataPath, program: torch.export.ExportedProgram) -> set[str]:
    """The parameters of the convolutions and linear layers along ``path``: the only ones the assignment's
    networks have (``unintended_steps`` names any other)."""
    parameters = program.graph_signature.inputs_to_parameters
    return {parameters[value.name] for step, others in _others(path) if _name(step) in AFFINE
            for value in others if value.name in parameters}


def affine_kinds(path: DataPath) -> list[str]:
    """``conv`` or ``linear`` for each layer along the path, in order."""
    return [AFFINE[_name(step)] for step in path.steps if _name(step) in AFFINE]
