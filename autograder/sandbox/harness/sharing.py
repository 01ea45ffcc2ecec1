"""How DataLoader workers hand tensors back to the process that started them, given the filter.

PyTorch's own ways need what the filter refuses: ``file_descriptor`` passes descriptors over a socket
(``sendmsg``), ``file_system`` asks ``torch_shm_manager`` over a unix socket (``connect``). Here tensors
and storages are pickled by value instead, through the pipe a worker already writes its results to: a
batch of MNIST images is some hundred kilobytes, a copy costs nothing worth sharing memory for.
"""

from __future__ import annotations

from multiprocessing.reduction import ForkingPickler
from typing import Any

import torch


def _by_value(value: Any) -> Any:
    """The ordinary pickling of a tensor or storage (its bytes), not a handle to shared memory."""
    return value.__reduce_ex__(2)


def tensors_by_value() -> None:
    """Undo the shared-memory reductions PyTorch registers for multiprocessing, in this process and in
    every worker it forks."""
    for kind in [*torch._storage_classes, torch.storage.TypedStorage, *torch._tensor_classes, torch.Tensor,
                 torch.nn.Parameter]:
        ForkingPickler.register(kind, _by_value)
