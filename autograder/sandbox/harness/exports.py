"""The student's models as graphs of PyTorch operators, traced for a fixed batch size.

The grader runs these graphs itself (parameter counts, shapes, function and accuracy all come from
them), so nothing here reports on a model: it only traces it. Each model is traced for two batch sizes,
the second drawn from the job's seed, and the grader checks both.
"""

from __future__ import annotations

import torch
from torch import nn
from torch._export.serde.serialize import serialize
from torch.nn.parameter import is_lazy

from .contract import GRAPH_PARTS, graph_record
from .wire import send

_EXPORT = torch.export.export
_SERIALIZE = serialize
_RAND = torch.rand


def export_model(model: object, input_shape: list[int], batch: int, key: str, what: str) -> None:
    """Trace ``model`` on ``batch`` inputs of ``input_shape`` and send the graph's pieces under ``key``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{what} is not an nn.Module (found {type(model).__name__})")
    model = model.cpu().eval()
    if any(is_lazy(tensor) for tensor in (*model.parameters(), *model.buffers())):
        with torch.no_grad():   # lazy layers (nn.LazyLinear) take their sizes from a first input, as in the notebook
            model(_RAND(batch, *input_shape))
    artifact = _SERIALIZE(_EXPORT(model, (_RAND(batch, *input_shape),)))
    for part in GRAPH_PARTS:
        send(graph_record(key, part), getattr(artifact, part))
