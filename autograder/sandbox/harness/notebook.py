"""Running notebook cells outside IPython: its syntax rewritten to plain calls, ``get_ipython()`` a shim."""

from __future__ import annotations

from typing import Any


class IPythonShim:
    """Stands in for ``get_ipython()``: line magics and shell commands do nothing; the bodies of
    timing and capture cell magics still run."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        if name in ("time", "capture", "timeit"):
            exec(compile(cell, "<cell magic>", "exec"), self.namespace)

    def system(self, *args: Any, **kwargs: Any) -> None:
        return None

    getoutput = system


def transform_magics(code: str) -> str:
    """Rewrite IPython syntax (``%matplotlib inline``, ``!pip ...``) into plain calls on get_ipython()."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    return TransformerManager().transform_cell(code)


def run_cell(code: str, name: str, namespace: dict) -> None:
    exec(compile(transform_magics(code), f"<cell {name}>", "exec"), namespace)


def fresh_namespace() -> dict:
    """The globals a notebook's cells share, as in a new kernel."""
    namespace: dict = {"__name__": "__main__"}
    namespace["get_ipython"] = lambda: IPythonShim(namespace)
    return namespace
