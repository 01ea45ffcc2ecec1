"""Which grader produced a result: a rerun trusts an earlier result only from the same grader."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import __version__
from .paths import HELPERS, PACKAGE, RELEASE_NOTEBOOK, ROOT


@functools.cache
def grader_version() -> str:
    """The release number and a digest of everything that decides a grade: the grader's code, the
    student-facing helpers the sandbox imports, and the release notebook whose given cells it runs."""
    digest = hashlib.sha256()
    sources = sorted(PACKAGE.rglob("*.py")) + sorted(HELPERS.glob("*.py")) + [RELEASE_NOTEBOOK]
    for path in sources:
        if path.is_file():
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{digest.hexdigest()[:12]}"


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, or None when it cannot be read."""
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return None
