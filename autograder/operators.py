"""Which PyTorch operators the grader runs from a student's graph, what each one costs and what it writes.

The grader executes exported graphs in its own process, so every operator must be free of side
effects (no file or memory tricks), repeatable (no random numbers) and costed from its shapes alone.
The accepted set is PyTorch's core ATen operator set less what breaks one of those rules, plus the
common non-core operators that ``torch.export`` emits for ordinary ``nn`` layers and tensor methods.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

# Core ATen operators refused: backward kernels, uninitialised or strided memory, data-dependent
# shapes, random numbers, and operators whose cost is not linear in what they read and write.
REFUSED_CORE = {
    "_adaptive_avg_pool2d_backward", "avg_pool2d_backward", "convolution_backward", "embedding_dense_backward",
    "max_pool2d_with_indices_backward", "native_group_norm_backward", "native_layer_norm_backward",
    "_local_scalar_dense", "as_strided", "empty", "empty_strided", "nonzero", "rand", "randn", "randperm",
    "native_dropout", "_cdist_forward", "_pdist_forward", "_fft_c2r", "_fft_r2c", "col2im", "_embedding_bag",
    "grid_sampler_2d", "copy", "masked_scatter", "index_put",
}
# Non-core operators that ordinary layers and tensor methods export to (in-place ones act on the
# graph's own intermediate values: a graph that mutates its inputs or state is refused elsewhere).
COMMON = {
    "conv1d", "conv2d", "linear", "matmul", "t", "transpose", "contiguous", "reshape", "flatten", "unflatten",
    "_unsafe_view", "view_as", "reshape_as", "expand_as", "type_as", "to", "detach", "detach_", "lift_fresh_copy",
    "relu_", "relu6", "hardtanh_", "leaky_relu_", "elu_", "silu", "silu_", "gelu_", "sigmoid_", "tanh_", "mish",
    "hardswish", "hardsigmoid", "softplus", "selu", "celu", "prelu", "log_sigmoid_forward", "threshold",
    "clamp_min", "clamp_max", "clamp_", "square", "add_", "sub_", "mul_", "div_", "softmax", "log_softmax",
    "dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout", "batch_norm", "layer_norm",
    "group_norm", "instance_norm", "max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d",
    "adaptive_avg_pool2d", "adaptive_max_pool2d", "zeros", "ones", "zeros_like", "ones_like", "full", "new_zeros",
    "new_ones", "new_full", "stack", "split", "chunk", "unbind", "narrow", "pad", "squeeze_", "unsqueeze_",
    "std", "norm", "linalg_vector_norm", "logsumexp", "clone", "alias",
    "_assert_tensor_metadata",  # what torch.export puts before every ``to``: a check, no computation
}
# Norms that update the running statistics they are given when this argument is true (their schemas
# do not mark those arguments as written).
STATISTICS_UPDATED_WHEN = {"batch_norm": "training", "instance_norm": "use_input_stats"}
RANDOM_BUT_OFF = {"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"}  # fine with train=False
CONTRACTIONS = {"linear", "mm", "addmm", "bmm", "matmul"}
CONVOLUTIONS = {"conv1d", "conv2d", "convolution"}
POOLS = {"max_pool1d", "max_pool2d", "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d",
         "avg_pool2d", "avg_pool3d"}
PYTHON_OPERATORS = {operator.getitem}


def _core_operators() -> set[str]:
    names = set()
    for name in dir(torch.ops.aten):
        packet = getattr(torch.ops.aten, name, None)
        if packet is None or not hasattr(packet, "overloads"):
            continue
        if any(torch.Tag.core in getattr(packet, overload).tags for overload in packet.overloads()):
            names.add(name)
    return names


ACCEPTED = (_core_operators() - REFUSED_CORE) | COMMON


def operator_name(target) -> str:
    """``relu`` for ``aten.relu.default``; empty for anything that is not an ATen operator."""
    if isinstance(target, torch._ops.OpOverload) and target.namespace == "aten":
        return target._schema.name.split("::", 1)[-1]
    return ""


def refusal(target) -> str | None:
    """Why the grader does not run ``target`` (a graph node's target), or None when it does."""
    if target in PYTHON_OPERATORS:
        return None
    name = operator_name(target)
    if not name:
        return f"{str(target)[:80]}, which is not an ATen operator"
    if name not in ACCEPTED:
        return f"aten.{name}, which the grader does not run"
    if torch.Tag.nondeterministic_seeded in target.tags and name not in RANDOM_BUT_OFF:
        return f"aten.{name}, which draws random numbers"
    return None


def call_arguments(node: torch.fx.Node) -> dict:
    """A call's arguments by name, defaults filled in from the operator's schema (any overload)."""
    assert isinstance(node.target, torch._ops.OpOverload)
    values = {}
    for index, argument in enumerate(node.target._schema.arguments):
        if index < len(node.args):
            values[argument.name] = node.args[index]
        elif argument.name in node.kwargs:
            values[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
    return values


def written(node: torch.fx.Node) -> list[torch.fx.Node]:
    """The values ``node`` writes into: the arguments its operator's schema marks as written (``Tensor(a!)``),
    and a norm's running statistics when it normalises with the batch's own, which its schema leaves unmarked."""
    if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
        return []
    arguments = call_arguments(node)
    names = [argument.name for argument in node.target._schema.arguments
             if argument.alias_info is not None and argument.alias_info.is_write]
    flag = STATISTICS_UPDATED_WHEN.get(operator_name(node.target))
    if flag is not None and arguments.get(flag) is not False:
        names += ["running_mean", "running_var"]
    return [value for name in names for value in tree_leaves(arguments.get(name))
            if isinstance(value, torch.fx.Node)]


def numel(value) -> int:
    if isinstance(value, (tuple, list)):
        return sum(map(numel, value))
    return int(value.numel()) if hasattr(value, "numel") else 0


def node_cost(node) -> int:
    """Arithmetic operations of one node, from its (recomputed) shapes: multiply-adds count twice for
    contractions and convolutions, pooling counts its window, anything else what it reads or writes."""
    name = operator_name(node.target)
    produced = numel(node.meta.get("val"))
    inputs = [argument.meta.get("val") for argument in node.args if hasattr(argument, "meta")]
    touched = max(produced, sum(map(numel, inputs)))
    if name in CONVOLUTIONS and len(inputs) > 1 and hasattr(inputs[1], "shape"):
        weight = inputs[1]
        per_output = max(1, numel(weight) // max(1, int(weight.shape[0])))
        if name == "convolution" and len(node.args) > 6 and node.args[6]:  # transposed: each input spreads out
            return 2 * numel(inputs[0]) * per_output + touched
        return 2 * produced * per_output
    if name in CONTRACTIONS and len(inputs) > 1:
        left = inputs[1] if name == "addmm" else inputs[0]
        depth = int(left.shape[-1]) if hasattr(left, "shape") and left.dim() else 1
        return 2 * produced * depth + touched
    if name in POOLS and len(node.args) > 1:
        window = node.args[1] if isinstance(node.args[1], (list, tuple)) else [node.args[1]]
        return produced * max(1, math.prod(int(k) for k in window if isinstance(k, int))) + touched
    if name in ("sort", "topk"):
        return touched * max(1, int(math.log2(max(2, touched))))
    return touched


class _ProducedValues(TorchDispatchMode):
    """Counts the values every operator call produces (views produce none: they share their input's)."""

    def __init__(self) -> None:
        super().__init__()
        self.values = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        result = func(*args, **(kwargs or {}))
        if not getattr(func, "is_view", False):
                self.values += sum(numel(leaf) for leaf in tree_leaves(result) if isinstance(leaf, torch.Tensor))
        return result


def call_cost(function: Callable[..., Any], tensors: dict[str, torch.Tensor], input_shape: tuple[int, ...],
              batch: int) -> tuple[int, int]:
    """(floating-point operations, values produced) of ``function(fake tensors, fake input)``, measured on
    fake tensors: nothing is computed and nothing is allocated, so the grader can cost a computation it
    is asked to run before running it."""
    with FakeTensorMode() as fake:
        fakes = {name: fake.from_tensor(tensor) for name, tensor in tensors.items()}
        inputs = torch.empty(batch, *input_shape)
        with FlopCounterMode(display=False) as flops, _ProducedValues() as produced:
            function(fakes, inputs)
    return int(flops.get_total_flops()), produced.values
