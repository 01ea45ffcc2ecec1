"""Running notebook cells outside IPython: its syntax rewritten to plain calls, ``get_ipython()`` a shim."""

from __future__ import annotations

import ast
import re
import sys
from typing import Any

TIMING = ("time", "timeit")
_TIMEIT_OPTIONS = re.compile(r"^\s*(?:-[nrp]\s*\d+\s+|-[a-z]+\s+)*")


def _measured(name: str, line: str) -> str:
    """The statement a timing line magic measures, without ``%timeit``'s options (``-n 3 -r 1``)."""
    return _TIMEIT_OPTIONS.sub("", line, count=1) if name == "timeit" else line


class IPythonShim:
    """Stands in for ``get_ipython()``: line magics and shell commands do nothing, except that the
    statement a timing magic measures (``%time model = train(...)``) and the bodies of timing and
    capture cell magics still run, once."""

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> Any:
        """The measured statement runs where the magic stands (inside a function, with its local names, as
        IPython runs it); an expression gives its value, as ``x = %time f()`` does."""
        if name not in TIMING:
            return None
        caller = sys._getframe(1)
        try:
            expression = compile(_measured(name, line), "<line magic>", "eval")
        except SyntaxError:
            exec(compile(_measured(name, line), "<line magic>", "exec"), caller.f_globals, caller.f_locals)
            return None
        return eval(expression, caller.f_globals, caller.f_locals)

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        if name in (*TIMING, "capture"):
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
    """Run the cell's statements in order. One that raises does not stop those after it: a stray line (an
    import the grader lacks, a test call on data it does not load, a name from a cell that failed) costs what
    it would have done, not the whole cell. The first error is raised again at the end, so the cell still
    reports it. Timeouts and ``sys.exit()`` (not ``Exception``) end the cell at once."""
    filename = f"<cell {name}>"
    first: Exception | None = None
    for statement in ast.parse(transform_magics(code), filename).body:
        try:
            exec(compile(ast.Module([statement], type_ignores=[]), filename, "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - kept and raised again once the cell is done
            first = first or error
    if first is not None:
        raise first


def fresh_namespace() -> dict:
    """The globals a notebook's cells share, as in a new kernel."""
    namespace: dict = {"__name__": "__main__"}
    namespace["get_ipython"] = lambda: IPythonShim(namespace)
    return namespace
