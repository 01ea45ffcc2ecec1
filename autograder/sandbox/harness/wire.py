"""The sending end of the channel (``contract.CHANNEL_FD``): framed records, each a JSON header line
``{"name": ..., "size": ...}`` followed by the bytes.

The functions it uses are bound when this module is imported, before any student code runs, so that
rebinding ``torch.save`` or ``json.dumps`` later does not change how records are written. (Student code
shares this process and could still write records of its own: the grader trusts no record for what it
claims, only for what it recomputes from it.)
"""

from __future__ import annotations

import io
import json
import os

import torch

from .contract import CHANNEL_FD, REPORT

_SAVE = torch.save
_DUMPS = json.dumps
_WRITE = os.write
_BYTES_IO = io.BytesIO


def send(name: str, data: bytes) -> None:
    message = _DUMPS({"name": name, "size": len(data)}).encode() + b"\n" + data
    view = memoryview(message)
    while view:
        view = view[_WRITE(CHANNEL_FD, view):]


def send_tensors(name: str, tensors: dict[str, torch.Tensor]) -> None:
    """Named tensors as an uncompressed ``torch.save`` file (the grader refuses compressed entries)."""
    buffer = _BYTES_IO()
    _SAVE(tensors, buffer)
    send(name, buffer.getvalue())


def send_report(report: dict) -> None:
    send(REPORT, _DUMPS(report).encode())
