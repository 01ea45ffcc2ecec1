"""Safe loading of what the sandbox returned.

Nothing here unpickles arbitrary objects or evaluates strings: tensors are read with
``torch.load(weights_only=True)``; torch's deserializer never sees the exported graph's JSON record as
it came, only the copy the grader rebuilt from it (``graph_record``: plain names, literal arguments,
accepted operators, fixed shapes, the grader's own specs); and the module the grader runs is built
without a guard function. A forged artifact can fail to load but cannot run code in the grader.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch._export.serde.serialize import SerializedArtifact, deserialize
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.export.graph_signature import InputKind
from torch.fx.passes.fake_tensor_prop import FakeTensorProp
from torch.multiprocessing.reductions import StorageWeakRef

from .datapath import AFFINE, DataPath, affine_kinds, data_path, layer_parameters, unintended_steps
from .graph_record import GraphRefused, rebuild
from .operators import RANDOM_BUT_OFF, call_arguments, node_cost, numel, operator_name, refusal, written
from .sandbox.harness.contract import GRAPH_PARTS, RECORD_BYTES, graph_record

MAX_ARTIFACT_BYTES = RECORD_BYTES       # no file can be larger than the record it came in
MAX_CONSTANT_ELEMENTS = 64      # tensors baked into the graph: a few scalars, never a table of data
# A tensor file's entries (seven besides one per tensor) and its pickle (about 100 bytes a tensor): the
# harness's files hold a few dozen tensors at most.
MAX_ENTRIES = 256
MAX_PICKLE_BYTES = 64 * 1024
COST_FACTOR = 4                 # a graph may cost this many times the reference's compute and memory
# The size of each reference model's exported graph record (the unit tests re-measure them). A student's
# record may be at most ``GRAPH_FACTOR`` times its model's before anything parses it (room for some 200
# operations, ``graph_record.MAX_NODES``), so that parsing it twice (the rebuild, then torch's
# deserializer) takes a few MB and milliseconds, never what a record of the channel's size would.
REFERENCE_GRAPH_BYTES = {"fc": 10_632, "lenet": 16_631, "cnn": 17_691}
GRAPH_FACTOR = 16
# Buffers the grader knows how to reset (batch normalisation's statistics); any other buffer is state
# the architecture does not need, and refuses the graph.
RESETTABLE_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class ArtifactError(Exception):
    """An artifact is missing, too large or not what the harness writes."""


def _require_stored(raw: bytes, what: str) -> None:
    """A ``torch.save`` file is a zip archive whose entries ``torch.save`` never compresses: refusing
    compressed entries, and entries whose declared size is not what they hold, bounds what loading it
    can allocate by the size of the file itself (``weights_only`` alone bounds nothing). Its pickle, which
    ``weights_only`` reads an opcode at a time in Python, and its entries are bounded in number too, so
    that loading it takes milliseconds, never minutes."""
    # The number of entries first, from the archive's end record: listing them costs time for each.
    end = raw.rfind(b"PK\x05\x06", max(0, len(raw) - 22 - 65535))
    if end < 0 or int.from_bytes(raw[end + 10:end + 12], "little") > MAX_ENTRIES:
        raise ArtifactError(f"{what} is not a tensor file of at most {MAX_ENTRIES} entries")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            entries = archive.infolist()
            if sum(entry.file_size for entry in entries) > len(raw):
                raise ArtifactError(f"{what} claims more data than it holds")
            if len(entries) > MAX_ENTRIES:
                raise ArtifactError(f"{what} holds more than {MAX_ENTRIES} entries")
            if any(entry.filename.endswith(".pkl") and entry.file_size > MAX_PICKLE_BYTES for entry in entries):
                raise ArtifactError(f"{what} describes its tensors in more than {MAX_PICKLE_BYTES:,} bytes")
            for entry in entries:
                if entry.compress_type != zipfile.ZIP_STORED or entry.compress_size != entry.file_size:
                    raise ArtifactError(f"{what} holds a compressed entry, which the harness never writes")
                with archive.open(entry) as member:
                    if len(member.read(entry.file_size + 1)) != entry.file_size:
                        raise ArtifactError(f"{what} holds an entry that is not the size it declares")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ArtifactError(f"{what} is not a tensor file") from None


def _load_plain(raw: bytes, what: str) -> object:
    """``torch.load`` of bytes that passed ``_require_stored``, without unpickling objects."""
    _require_stored(raw, what)
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means a forged or broken file
        raise ArtifactError(f"{what} is not a tensor file ({type(error).__name__})") from None


def _read_bounded(path: Path, most: int = MAX_ARTIFACT_BYTES) -> bytes:
    """The file's bytes, at most ``most`` of them: read with that bound, not after a look at its size,
    which a file still being written (a record the grader loads while the sandbox runs) can outgrow."""
    if not path.is_file():
        raise ArtifactError(f"{path.name} was not produced")
    with open(path, "rb") as file:
        data = file.read(most + 1)
    if len(data) > most:
        raise ArtifactError(f"{path.name} is too large (more than {most:,} bytes, which is all that is read)")
    return data


def largest_graph(key: str) -> int:
    """The most bytes the graph record under ``key`` (``fc``, ``cnn_second``, ``cnn_8_16_32`` ...) may have."""
    return GRAPH_FACTOR * REFERENCE_GRAPH_BYTES[key.split("_")[0]]


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A ``{name: tensor}`` file saved by the harness, read without unpickling objects."""
    data = _load_plain(_read_bounded(path), path.name)
    if not isinstance(data, dict) \
            or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()):
        raise ArtifactError(f"{path.name} does not hold named tensors")
    _require_dense(data.values(), path.name)
    return data


def _require_dense(tensors, what: str) -> None:
    """Every tensor holds its own values: a view that repeats a few stored values (``expand``) would
    make any later copy of it as large as it claims to be, far beyond what the file held."""
    for tensor in tensors:
        if not tensor.is_contiguous() or tensor.untyped_storage().nbytes() < tensor.numel() * tensor.element_size():
            raise ArtifactError(f"{what} holds a tensor that is a view of fewer values than it claims")


def _screen_state(program: torch.export.ExportedProgram) -> None:
    """Every tensor the graph carries is a parameter (re-initialised before training), a batch-norm
    statistic (reset), or a few constant values; anything else could carry answers, not architecture.
    All of them hold their own values, so their size is bounded by the files they came in."""
    carried = [*program.state_dict.values(), *program.constants.values()]
    _require_dense([t for t in carried if isinstance(t, torch.Tensor)], "the exported model")
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

    def exceeds(self, limit: GraphCost) -> bool:
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
    mode = FakeTensorMode()
    try:
        fakes = [mode.from_tensor(tensor) for tensor in real]
        FakeTensorProp(program.graph_module, mode).propagate_dont_convert_inputs(*fakes)
    except Exception as error:  # noqa: BLE001 - any failure: the graph does not hold together
        raise ArtifactError(f"the exported graph's shapes do not add up ({type(error).__name__})") from None
    _screen_writes(program, fakes)


def _screen_writes(program: torch.export.ExportedProgram, fakes: Sequence[torch.Tensor]) -> None:
    """No node writes into the memory of a parameter, a buffer, a constant or the input (``fakes``, as
    propagated), directly or through a view or alias of it (``detach``, ``_unsafe_view``, an ``out=``
    argument): the grader reads them after running the graph. torch.export declares such writes in the
    signature (``_screen_state`` refuses them); a forged record need not. Memory is matched on the
    propagated values, whose views share their base's storage as they would in a real run."""
    owners = {StorageWeakRef(fake.untyped_storage()): spec.arg.name
              for spec, fake in zip(program.graph_signature.input_specs, fakes, strict=True)}
    for node in program.graph.nodes:
        for target in written(node):
            value = target.meta.get("val")
            owner = owners.get(StorageWeakRef(value.untyped_storage())) if isinstance(value, torch.Tensor) else None
            if owner is not None:
                raise ArtifactError(f"the model's forward pass writes into {owner[:80]}: it changes its own state "
                                    "or its input")


@dataclass
class ExportedModel:
    """A student's model as a graph of PyTorch operators, with its parameters, traced for ``batch``
    inputs; its shapes and cost were recomputed by the grader."""

    program: torch.export.ExportedProgram
    batch: int
    cost: GraphCost
    budget: GraphCost
    dropout_left_on: bool = False   # a dropout that stayed on in eval mode, switched off here (``_dropout_off``)

    @property
    def too_costly(self) -> str | None:
        """Why the grader will not run this graph, if it will not."""
        limit = GraphCost(self.budget.flops * COST_FACTOR, self.budget.elements * COST_FACTOR)
        if not self.cost.exceeds(limit):
            return None
        return (f"the model's graph costs {self.cost.flops / self.budget.flops:.1f}x the computation and "
                f"{self.cost.elements / self.budget.elements:.1f}x the memory of the intended network; the grader "
                f"runs at most {COST_FACTOR}x")

    def module(self) -> torch.nn.Module:
        """The graph as a module the grader can run (only within the cost bound)."""
        if self.too_costly:
            raise ArtifactError(self.too_costly)
        return self.program.module(check_guards=False)   # no guard function: its code would be the graph's

    def path(self, what: str) -> DataPath:
        """The steps from the input to the output (computed once)."""
        if not hasattr(self, "_path"):
            self._path = data_path(self.program, what)
        return self._path

    def parameter_count(self, what: str) -> int:
        """Values of the parameters of the convolutions and linear layers on the data's path (a parameter
        used elsewhere, or nowhere, does not count; one on the path outside those layers is a structure
        problem)."""
        return sum(self.program.state_dict[name].numel()
                   for name in layer_parameters(self.path(what), self.program))

    def affine_layers(self) -> list[dict]:
        """The convolutions and linear layers in the order the forward pass calls them (any overload):
        their parameter names and, for convolutions, stride, padding, dilation and groups as the student
        set them."""
        lifted = self.program.graph_signature.inputs_to_parameters
        layers = []
        for node in self.program.graph.nodes:
            kind = AFFINE.get(operator_name(node.target)) if node.op == "call_function" else None
            if kind is None:
                continue
            arguments = call_arguments(node)
            weight, bias = arguments.get("weight"), arguments.get("bias")
            layer = {"kind": kind, "weight": lifted.get(getattr(weight, "name", None)),
                     "bias": lifted.get(getattr(bias, "name", None)) if bias is not None else None}
            if layer["weight"] is None or (bias is not None and layer["bias"] is None):
                raise ArtifactError("a layer of the model uses a weight that is not a parameter")
            if kind == "conv":
                layer.update({key: arguments[key] for key in ("stride", "padding", "dilation", "groups")})
            layers.append(layer)
        return layers

    def structure_problem(self, name: str, convolutions: int, linears: int) -> str | None:
        """How the layers on the data's path differ from the intended structure (``convolutions``
        convolution layers, then ``linears`` linear layers, nothing else with parameters and no
        normalisation), or None; the widths and the activations are free."""
        path = self.path(name)
        if path.problem:
            return path.problem
        unintended = unintended_steps(path, self.program)
        if unintended:
            return (f"{name} has {'; '.join(unintended)} on the way from its input to its output, which the intended "
                    "network does not: besides its convolutions and linear layers it has only activations, pooling "
                    "and flattening, none with parameters or statistics")
        kinds = affine_kinds(path)
        found = (kinds.count("conv"), kinds.count("linear"))
        if found != (convolutions, linears):
            return (f"{name} should have {convolutions} convolution and {linears} linear layers; "
                    f"yours has {found[0]} and {found[1]}")
        if kinds != ["conv"] * convolutions + ["linear"] * linears:
            return f"{name} should apply all its convolutions before its linear layers"
        return None

    def layer_shapes(self, kinds: dict[str, str]) -> list[tuple[str, tuple[int, ...]]]:
        """(layer kind, per-sample output shape) of every call of the operators in ``kinds`` (operator
        name -> kind reported), in order."""
        shapes = []
        for node in self.program.graph.nodes:
            if node.op != "call_function":
                continue
            kind = operator_name(node.target).rstrip("_").replace("_with_indices", "")
            value = node.meta.get("val")
            if isinstance(value, (tuple, list)):  # max_pool2d_with_indices
                value = value[0]
            if kind in kinds and hasattr(value, "shape"):
                shapes.append((kinds[kind], tuple(int(s) for s in value.shape[1:])))
        return shapes


def load_exported(folder: Path, key: str, budget: GraphCost, input_shape: tuple[int, ...], batch: int) -> ExportedModel:
    """Load ``<key>.*`` sent by the harness's export (``exported_from``)."""
    return exported_from(graph_parts(folder, key), budget, input_shape, batch)


def graph_parts(folder: Path, key: str) -> dict[str, bytes]:
    """The bytes of the pieces of the graph under ``key`` that the grader reads (the record's example
    inputs are not: the grader's own stand in), each read once and bounded."""
    parts = {}
    for part in GRAPH_PARTS[:3]:
        path = folder / graph_record(key, part)
        if not path.is_file():
            raise ArtifactError(f"no exported graph ({path.name} missing)")
        parts[part] = _read_bounded(path, largest_graph(key) if part == "exported_program" else MAX_ARTIFACT_BYTES)
    return parts


def exported_from(parts: dict[str, bytes], budget: GraphCost, input_shape: tuple[int, ...],
                  batch: int) -> ExportedModel:
    """The graph in ``parts`` (``graph_parts``), after rebuilding its record (``graph_record``) and
    screening every piece, with its shapes and cost recomputed for ``batch`` inputs of ``input_shape``. A
    graph that costs more than ``COST_FACTOR`` times ``budget`` (the reference's cost) still loads, so
    that its shapes can be reported, but never runs."""
    try:
        record = rebuild(parts["exported_program"])
    except GraphRefused as refused:
        raise ArtifactError(str(refused)) from None
    # Tensors are handed to the deserializer already loaded here (``weights_only``): given loaded objects it
    # loads nothing, so its own retry of a failed load with ``weights_only=False`` cannot be reached. Only
    # the tensors the rebuilt record names are passed on.
    loaded: dict[str, Any] = {part: _load_plain(parts[part], f"the exported {part}") if parts[part] else {}
              for part in ("state_dict", "constants")}
    if not all(isinstance(value, dict) for value in loaded.values()):
        raise ArtifactError("the exported graph's tensors are not what torch.export writes")
    size = sum(v.numel() for v in loaded["constants"].values() if isinstance(v, torch.Tensor))
    if size > MAX_CONSTANT_ELEMENTS:
        raise ArtifactError(f"the model carries {size} constant values baked into its graph")
    try:
        state = {name: loaded["state_dict"][name] for name in record.state}
        constants = {name: loaded["constants"][name] for name in record.constants}
    except KeyError:
        raise ArtifactError("the exported graph names a tensor that did not come with it") from None
    example: tuple = ((torch.zeros(batch, *input_shape),), {})
    try:
        program = deserialize(SerializedArtifact(record.json, state, constants, example))  # type: ignore[arg-type]
    except Exception as error:  # noqa: BLE001 - any failure: a forged or broken graph
        raise ArtifactError(f"the exported graph could not be loaded ({type(error).__name__})") from None
    _screen_state(program)
    left_on = _dropout_off(program)
    _propagate_shapes(program, tuple(input_shape), batch)
    return ExportedModel(program, batch, graph_cost(program), budget, left_on)


def _dropout_off(program: torch.export.ExportedProgram) -> bool:
    """Switch off every dropout the model left on when evaluated (``F.dropout(x, p)`` without
    ``training=self.training``), so that the graph draws no random numbers, and say whether one with a
    ``p`` above 0 was on: the function check fails on it; the counts, shapes and accuracy are judged
    without it."""
    switched, left_on = False, False
    for node in program.graph.nodes:
        if node.op == "call_function" and operator_name(node.target) in RANDOM_BUT_OFF and len(node.args) > 2 \
                and node.args[2] is not False:
            left_on = left_on or node.args[1] != 0
            node.args = (*node.args[:2], False, *node.args[3:])
            switched = True
    if switched:
        program.graph_module.recompile()
    return left_on
