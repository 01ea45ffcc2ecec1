"""The student's models as graphs of PyTorch operators, traced with a symbolic batch dimension.

The grader runs these graphs itself (shapes, function, accuracy, parameter counts all come from them),
so nothing here reports on a model: it only traces it. A forward pass that depends on its batch size
cannot be traced this way, and is refused as the error of its phase.
"""

from __future__ import annotations

import torch
from torch import nn
from torch._export.serde.serialize import serialize

from .contract import BATCH_RANGE, EXPORT_BATCH, GRAPH_PARTS, graph_record
from .wire import send

_EXPORT = torch.export.export
_DIM = torch.export.Dim
_SERIALIZE = serialize
_RAND = torch.rand


def export_model(model: object, input_shape: list[int], key: str, what: str) -> None:
    """Trace ``model`` on ``EXPORT_BATCH`` inputs of ``input_shape`` and send the graph's pieces."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} is not an nn.Module (found {type(model).__name__})")
    model = model.cpu().eval()
    batch = _DIM("batch", min=BATCH_RANGE[0], max=BATCH_RANGE[1])
    try:
        program = _EXPORT(model, (_RAND(EXPORT_BATCH, *input_shape),), dynamic_shapes=({0: batch},))
    except Exception as error:
        if "batch" in str(error) and ("specializ" in str(error) or "constraint" in str(error).lower()):
            raise ValueError(f"{what}'s forward pass depends on the batch size; it must work for any batch "
                             "(use x.flatten(1) or x.view(x.size(0), -1), not a fixed batch)") from None
        raise
    artifact = _SERIALIZE(program)
    for part in GRAPH_PARTS:
        send(graph_record(key, part), getattr(artifact, part))
