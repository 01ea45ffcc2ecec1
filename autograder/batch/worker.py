"""A long-lived grading process of a batch: it imports PyTorch and loads MNIST once, then grades the
submissions it is sent, one after the other. Each student's code still runs in its own fresh sandbox;
this process only scores artifacts, so nothing of one submission reaches the next but the accuracies
the grader itself measured, by graph (``autograder.accuracy_memo``): a graph seen before is not trained
again.

Protocol: one JSON object per line on stdin (``{"notebook": ..., "results": ...}``), one reply per
line on stdout (``{"results": {...}}`` once the results file is written, or ``{"error": why}``), with
``"spent": true`` when this process may grade no more (its memory bound was reached, or a grading
changed the grader's own classes: see ``autograder.bounds``, ``autograder.tamper``); it exits after
that reply.

    python -m autograder.batch.worker ISOLATION [LOG_FOLDER]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..accuracy_memo import AccuracyMemo
from ..bounds import release_freed_memory, spent
from ..context import MnistTensors
from ..engine import grade
from ..failures import report
from ..results import write_json_atomically
from ..sandbox.isolation import Mode, choose_mode
from ..sandbox.warm import WarmSandbox
from ..settings import Settings


def main() -> None:
    replies, sys.stdout = sys.stdout, sys.stderr  # stdout carries replies only
    isolation = sys.argv[1] if len(sys.argv) > 1 else "auto"
    log_folder = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    mnist = MnistTensors()
    warm = WarmSandbox(Settings().limits)
    try:
        serve(replies, isolation, log_folder, mnist, warm, AccuracyMemo())
    finally:
        warm.close()


def serve(replies, isolation: str, log_folder: Path | None, mnist: MnistTensors, warm: WarmSandbox,
          accuracy_memo: AccuracyMemo) -> None:
    """Grade each request on stdin until it ends or this process is spent."""
    for line in sys.stdin:
        request = json.loads(line)
        try:
            zygote = warm.get() if choose_mode(isolation) == Mode.BUBBLEWRAP else None
            results = grade(Path(request["notebook"]), mnist=mnist, isolation=isolation, zygote=zygote,
                            accuracy_memo=accuracy_memo).gradescope()
            write_json_atomically(Path(request["results"]), results)
            reply: dict[str, Any] = {"results": results}
        except Exception as error:  # noqa: BLE001 - whatever stops the grader costs this submission only
            reply = {"error": report(error, log_folder)}
        release_freed_memory()
        finished = spent()
        if finished:
            reply["spent"] = True
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if finished:
            return


if __name__ == "__main__":
    main()
