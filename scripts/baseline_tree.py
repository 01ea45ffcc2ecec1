"""An earlier commit of this project checked out beside it, for benchmarks that compare against it in
the same run (``--baseline REV``): run with ``-m`` from that folder, its package is the one imported."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """A scratch worktree at ``revision``, removed afterwards; exits with one line if git cannot make it."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "baseline"
        made = subprocess.run(["git", "worktree", "add", "--detach", str(tree), revision], cwd=ROOT,
                              capture_output=True, text=True)
        if made.returncode:
            sys.exit(f"cannot check out {revision}: {made.stderr.strip() or made.returncode}")
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
