"""The grader's end of the harness's one way out: framed records on a pipe, read with hard bounds.

A record is a header line ``{"name": NAME, "size": N}`` followed by N bytes. The reader keeps the last
record of each name in a folder of the grader's own. Anything else (a bad header, a name outside the
allowed pattern, a record or total over its bound) ends the reading; what came before it is kept,
and the reason is kept for the verdict.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from .harness.contract import HEADER_BYTES, RECORD_BYTES, RECORD_NAME, RECORDS, TOTAL_BYTES


class ChannelReader:
    """Drains the read end of the pipe in a thread, so the harness never blocks on a full pipe."""

    def __init__(self, fd: int, folder: Path) -> None:
        self.stream = os.fdopen(fd, "rb", buffering=1024 * 1024)
        self.folder = folder
        self.received: set[str] = set()
        self.problem = ""        # why reading stopped early, if it did
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        total, count = 0, 0
        try:
            while True:
                header = self.stream.readline(HEADER_BYTES + 1)
                if not header:
                    return
                name, size = self._parse(header)
                total, count = total + size, count + 1
                if total > TOTAL_BYTES or count > RECORDS:
                    raise ValueError("the sandbox sent more than the grader accepts")
                data = self.stream.read(size)
                if len(data) != size:
                    raise ValueError(f"the record {name} was cut off")
                (self.folder / name).write_bytes(data)
                self.received.add(name)
        except (ValueError, OSError) as error:
            self.problem = str(error)[:200]
        except MemoryError:   # the grader's memory bound, which the submission's own artifacts brought near
            self.problem = "the grader had no memory left to receive the sandbox's records"
        finally:
            self.stream.close()

    @staticmethod
    def _parse(header: bytes) -> tuple[str, int]:
        if len(header) > HEADER_BYTES or not header.endswith(b"\n"):
            raise ValueError("a record header from the sandbox is malformed")
        try:
            fields = json.loads(header)
        except ValueError:
            raise ValueError("a record header from the sandbox is not JSON") from None
        if not isinstance(fields, dict) or set(fields) != {"name", "size"}:
            raise ValueError("a record header from the sandbox has the wrong fields")
        name, size = fields["name"], fields["size"]
        if not isinstance(name, str) or not RECORD_NAME.fullmatch(name):
            raise ValueError("a record from the sandbox has a name the grader does not accept")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= RECORD_BYTES:
            raise ValueError(f"the record {name} is too large")
        return name, size

    def finish(self, timeout: float = 10.0) -> None:
        """Wait for the end of the stream (every writer gone); stop waiting after ``timeout``."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.problem = self.problem or "the sandbox's channel was still open after it ended"
