"""The exported graph's JSON record, rebuilt by the grader before torch's deserializer sees it.

torch.export's loader trusts its input. Names in the record become Python source (the placeholders
of ``forward``, attribute paths, the arguments of the generated code), ``guards_code`` is compiled by
``ExportedProgram.module()``, a pytree context can import a module by name, and symbolic shapes go to
sympy's parser. A record written by student code could run code in the grader through any of them.
So the grader never hands torch the record it received: it builds a new one holding only what a
graph of fixed shapes needs, each name a plain Python identifier (dotted for a parameter's path),
each argument one of a few literal kinds, each operator on the accepted list, and the versions, specs
and verifier of the grader's own torch; a record that needs anything else is refused with the reason.
Nothing is passed through unread: a field this module does not know is dropped, never trusted.
"""

from __future__ import annotations

import json
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch._export.serde.schema import SCHEMA_VERSION
from torch.utils._pytree import tree_structure, treespec_dumps

from .operators import refusal

MAX_NODES = 200                 # the reference models have at most 25 operator calls
MAX_LIST = 1024                 # no operator of a model this size takes or returns longer lists
MAX_NAME = 100
INDEX = re.compile(r"[0-9]{1,6}")
OPERATOR_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
NOT_FINITE = ("Infinity", "-Infinity", "NaN")
WORD = re.compile(r"[A-Za-z0-9_]{0,40}")   # a string argument (``rounding_mode="floor"``)
# The only call structure the grader runs: ``model(x)`` with one tensor, returning one tensor.
ONE_INPUT = treespec_dumps(tree_structure(((0,), {})))
ONE_OUTPUT = treespec_dumps(tree_structure(0))
# What a module the grader builds holds besides the student's tensors: every attribute of its classes and
# of their instances, and those ``ExportedProgram.module()`` adds.
MODULE_ATTRIBUTES = frozenset({*dir(fx.GraphModule), *vars(fx.GraphModule(nn.Module(), fx.Graph())),
                               *vars(nn.Module()), "_in_spec", "_out_spec", "_guards_fn", "range_constraints",
                               "validate_inputs", "shape_env"})
TENSOR_INPUTS = {"parameter": "parameter_name", "buffer": "buffer_name", "tensor_constant": "tensor_constant_name"}
STATE_CHANGES = ("buffer_mutation", "parameter_mutation", "user_input_mutation")


class GraphRefused(Exception):
    """The record holds something the grader does not run; the message says what."""


@dataclass(frozen=True)
class Record:
    """A rebuilt record, and the names of the tensors it takes from the state dict and the constants."""

    json: bytes
    state: tuple[str, ...]       # parameters and persistent buffers
    constants: tuple[str, ...]   # constant tensors and buffers that are not saved


def rebuild(raw: bytes) -> Record:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise GraphRefused("the exported graph is not JSON") from None
    try:
        return _program(document)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, OverflowError):
        raise GraphRefused("the exported graph is not what torch.export writes") from None
    except RecursionError:
        raise GraphRefused("the exported graph is nested too deeply") from None


def _program(document: Any) -> Record:
    if document.get("guards_code"):
        raise GraphRefused("the exported graph carries Python code of its own")
    if document.get("range_constraints"):
        raise GraphRefused("the exported graph has symbolic shapes")
    module = document["graph_module"]
    signature, state, constants = _signature(module["signature"])
    user_input = next(spec["user_input"]["arg"]["as_tensor"]["name"] for spec in signature["input_specs"]
                      if "user_input" in spec)
    rebuilt = {
        "graph_module": {
            "graph": _graph(module["graph"]),
            "signature": signature,
            "module_call_graph": [_root_call(module["module_call_graph"], user_input)],
            "metadata": {},
            "treespec_namedtuple_fields": {},
        },
        "opset_version": {"aten": torch._C._get_max_operator_version()},
        "range_constraints": {},
        "schema_version": {"major": SCHEMA_VERSION[0], "minor": SCHEMA_VERSION[1]},
        "verifiers": ["TRAINING"],
        "torch_version": torch.__version__,
        "guards_code": [],
    }
    return Record(json.dumps(rebuilt).encode(), state, constants)


def _signature(signature: Any) -> tuple[dict, tuple[str, ...], tuple[str, ...]]:
    inputs: list[dict] = []
    state: list[str] = []
    constants: list[str] = []
    for spec in signature["input_specs"]:
        kind, value = _one(spec)
        if kind == "user_input":
            inputs.append({kind: {"arg": {"as_tensor": _tensor(value["arg"]["as_tensor"])}}})
        elif kind in TENSOR_INPUTS:
            field = TENSOR_INPUTS[kind]
            path = _path(value[field])
            rebuilt: dict = {"arg": _tensor(value["arg"]), field: path}
            if kind == "buffer":
                rebuilt["persistent"] = _bool(value["persistent"])
            (state if kind == "parameter" or (kind == "buffer" and rebuilt["persistent"]) else constants).append(path)
            inputs.append({kind: rebuilt})
        else:
            raise GraphRefused(f"the exported graph takes a {kind} input, which the grader does not provide")
    if sum("user_input" in spec for spec in inputs) != 1:
        raise GraphRefused("the exported graph does not take exactly one input")
    outputs = []
    for spec in signature["output_specs"]:
        kind, value = _one(spec)
        if kind in STATE_CHANGES:
            raise GraphRefused("the model's forward pass changes its own state or its input")
        if kind != "user_output":
            raise GraphRefused(f"the exported graph has a {kind} output, which the grader does not use")
        outputs.append({kind: {"arg": {"as_tensor": _tensor(value["arg"]["as_tensor"])}}})
    if len(outputs) != 1:
        raise GraphRefused("the model does not return exactly one tensor")
    return {"input_specs": inputs, "output_specs": outputs}, tuple(state), tuple(constants)


def _root_call(entries: Any, user_input: str) -> dict:
    """The call of the whole model, the only one ``module()`` reads; the specs must be the plain
    one-tensor ones (the grader writes its own copy: pytree's decoder imports types by name)."""
    root = next((entry for entry in entries if entry["fqn"] == ""), None)
    if root is None:
        raise GraphRefused("the exported graph does not say how the model is called")
    call = root["signature"]
    if call["in_spec"] != ONE_INPUT or call["out_spec"] != ONE_OUTPUT:
        raise GraphRefused("the model does not take one tensor and return one tensor")
    return {"fqn": "", "signature": {"inputs": [], "outputs": [], "in_spec": ONE_INPUT, "out_spec": ONE_OUTPUT,
                                     "forward_arg_names": [user_input]}}


def _graph(graph: Any) -> dict:
    for field in ("sym_int_values", "sym_bool_values", "sym_float_values"):
        if graph.get(field):
            raise GraphRefused("the exported graph has symbolic shapes")
    if graph.get("custom_obj_values"):
        raise GraphRefused("the model carries script objects in its graph")
    nodes = graph["nodes"]
    if len(nodes) > MAX_NODES:
        raise GraphRefused(f"the model's graph has {len(nodes)} operations; the grader runs at most {MAX_NODES}")
    return {
        "inputs": [{"as_tensor": _tensor(_only(argument, "as_tensor"))} for argument in graph["inputs"]],
        "outputs": [{"as_tensor": _tensor(_only(argument, "as_tensor"))} for argument in graph["outputs"]],
        "nodes": [_node(node) for node in nodes],
        "tensor_values": {_name(name): _tensor_meta(meta) for name, meta in graph["tensor_values"].items()},
        "sym_int_values": {}, "sym_bool_values": {}, "sym_float_values": {}, "custom_obj_values": {},
        "is_single_tensor_return": _bool(graph.get("is_single_tensor_return", False)),
    }


def _node(node: Any) -> dict:
    inputs = [{"name": _parameter_name(argument["name"]), "arg": _argument(argument["arg"]),
               "kind": _choice(argument["kind"], (1, 2))} for argument in node["inputs"]]
    outputs: list[dict[str, Any]] = []
    for output in node["outputs"]:
        kind, value = _one(output)
        if kind == "as_tensor":
            outputs.append({kind: _tensor(value)})
        elif kind == "as_tensors":
            outputs.append({kind: [_tensor(item) for item in _list(value)]})
        else:
            raise GraphRefused("an operation of the exported graph returns something other than tensors")
    return {"target": _target(node["target"]), "inputs": inputs, "outputs": outputs, "metadata": {},
            "is_hop_single_tensor_return": None, "name": _name(node["name"])}


def _argument(argument: Any) -> dict:
    kind, value = _one(argument)
    if kind == "as_tensor":
        return {kind: _tensor(value)}
    if kind == "as_tensors":
        return {kind: [_tensor(item) for item in _list(value)]}
    if kind in ("as_optional_tensor", "as_optional_tensors"):
        items = [_optional_tensor(item) for item in (_list(value) if kind.endswith("s") else [value])]
        return {kind: items if kind.endswith("s") else items[0]}
    if kind == "as_none":
        return {kind: True}
    if kind in ("as_int", "as_scalar_type", "as_memory_format", "as_layout"):
        return {kind: _int(value)}
    if kind == "as_ints":
        return {kind: [_int(item) for item in _list(value)]}
    if kind == "as_float":
        return {kind: _float(value)}
    if kind == "as_floats":
        return {kind: [_float(item) for item in _list(value)]}
    if kind == "as_bool":
        return {kind: _bool(value)}
    if kind == "as_bools":
        return {kind: [_bool(item) for item in _list(value)]}
    if kind == "as_string":
        if isinstance(value, str) and WORD.fullmatch(value):
            return {kind: value}
        raise GraphRefused("an operation of the exported graph takes a string argument that is not a short word")
    if kind == "as_device":
        return {kind: _device(value)}
    if kind.startswith(("as_sym", "as_expr")):
        raise GraphRefused("the exported graph has symbolic shapes")
    raise GraphRefused(f"an operation of the exported graph takes an argument of kind {kind[:40]!r}, "
                       "which the grader does not run")


def _optional_tensor(item: Any) -> dict:
    kind, value = _one(item)
    if kind == "as_none":
        return {kind: True}
    if kind == "as_tensor":
        return {kind: _tensor(value)}
    raise GraphRefused("an optional tensor of the exported graph is neither a tensor nor None")


def _tensor_meta(meta: Any) -> dict:
    return {"dtype": _int(meta["dtype"]), "sizes": [_size(size) for size in _list(meta["sizes"])],
            "requires_grad": _bool(meta["requires_grad"]), "device": _device(meta["device"]),
            "strides": [_size(stride) for stride in _list(meta["strides"])],
            "storage_offset": _size(meta["storage_offset"]), "layout": _int(meta["layout"])}


def _size(size: Any) -> dict:
    kind, value = _one(size)
    if kind != "as_int":
        raise GraphRefused("the exported graph has symbolic shapes")
    return {kind: _int(value)}


def _target(target: object) -> str:
    if not isinstance(target, str):
        raise GraphRefused("an operation of the exported graph has no operator name")
    operator_name, _, overload = target.removeprefix("torch.ops.aten.").partition(".")
    if not target.startswith("torch.ops.aten.") or not OPERATOR_NAME.fullmatch(operator_name) \
            or not OPERATOR_NAME.fullmatch(overload):
        raise GraphRefused(f"the exported graph calls {target[:80]!r}, which the grader does not run")
    resolved = getattr(getattr(torch.ops.aten, operator_name, None), overload, None)
    reason = (refusal(resolved) if resolved is not None
              else f"aten.{operator_name}.{overload}, which PyTorch does not know")
    if reason:
        raise GraphRefused(f"the model uses {reason}")
    return target


def _tensor(argument: Any) -> dict:
    return {"name": _name(_only(argument, "name"))}


def _name(value: object) -> str:
    """A plain identifier: torch writes names into the Python source of the module it generates. Python
    reads an identifier in its NFKC form, so only names already in that form are taken (two names that
    differ only in it would be one variable in the source)."""
    if isinstance(value, str) and _identifier(value) and not keyword.iskeyword(value) and value != "self":
        return value
    raise GraphRefused(f"the exported graph names something {str(value)[:60]!r}, which is not a plain name")


def _parameter_name(value: object) -> str:
    """The name of an operator's parameter in its schema (``self`` is the first one's), matched against
    the schema, never written into code."""
    if isinstance(value, str) and _identifier(value):
        return value
    raise GraphRefused(f"an operation of the exported graph names an argument {str(value)[:60]!r}")


def _identifier(value: str) -> bool:
    return len(value) <= MAX_NAME and value.isidentifier() and unicodedata.normalize("NFKC", value) == value


def _path(value: object) -> str:
    """Names or indices (``net.0.weight`` in an ``nn.Sequential``), joined by dots. Torch follows the
    path attribute by attribute when it builds the module: a part the module or its classes already
    hold (``__class__``, ``forward``, ``_parameters``) would lead it to overwrite what it finds there."""
    if not isinstance(value, str) or not 0 < value.count(".") + 1 <= 8:
        raise GraphRefused("the exported graph names a tensor by something other than a path of names")
    parts = value.split(".")
    for part in parts:
        if part.startswith("__") or part in MODULE_ATTRIBUTES:
            raise GraphRefused(f"the exported graph names a tensor {part[:60]!r}, a name the module itself uses")
    return ".".join(part if INDEX.fullmatch(part) else _name(part) for part in parts)


def _one(union: Any) -> tuple[str, Any]:
    """The one (kind, value) pair of a schema union, as torch writes them."""
    if not isinstance(union, dict) or len(union) != 1:
        raise GraphRefused("the exported graph is not what torch.export writes")
    return next(iter(union.items()))


def _only(union: Any, kind: str) -> Any:
    found, value = _one(union)
    if found != kind:
        raise GraphRefused(f"the exported graph has {found[:40]!r} where only {kind!r} is accepted")
    return value


def _list(value: Any) -> list:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise GraphRefused("the exported graph holds a list that is not what torch.export writes")
    return value


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return value
    raise GraphRefused("the exported graph holds a number that is not an integer")


def _float(value: object) -> float | str:
    """A number, or one of the words torch writes for the floats JSON has none for (``-inf`` in a
    ``masked_fill`` or a ``clamp``)."""
    if value in NOT_FINITE:
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
        return float(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise GraphRefused("the exported graph holds a number that is not a real number")


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise GraphRefused("the exported graph holds a flag that is neither true nor false")


def _choice(value: object, choices: tuple) -> object:
    if value in choices and not isinstance(value, bool):
        return value
    raise GraphRefused("the exported graph is not what torch.export writes")


def _device(value: Any) -> dict:
    if value != {"type": "cpu", "index": None}:
        raise GraphRefused("the exported graph places a tensor on a device other than the CPU")
    return {"type": "cpu", "index": None}
