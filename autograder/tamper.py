"""A tripwire on the classes the checks run on, for a way in that no screen foresaw.

Loading a student's graph runs PyTorch's own loader in the grader's process. A record that led it to
write into an object it walks (``graph_record`` closes every way known) would change PyTorch for
every check after it and, in a batch worker, for every later submission. So the class dictionaries of
the code the checks rely on (PyTorch's modules, graphs, export, tensors and autograd; the grader's own
package) are recorded before a submission's checks and compared after them: an attribute added,
removed or rebound voids that submission's checks (they ran on a changed grader) and retires the
process, so that the next submission is graded by a fresh one (``bounds.retire``).
"""

from __future__ import annotations

import sys

WATCHED = ("torch.nn", "torch.fx", "torch.export", "torch._export", "torch.utils._pytree", "torch._tensor",
           "torch.autograd", "torch.optim", "torch.functional", "autograder")

Snapshot = dict[type, dict[str, object]]
_ABSENT = object()


def _classes() -> list[type]:
    """Every class defined in a loaded module of the watched packages (and ``torch.Tensor``'s bases)."""
    found: dict[int, type] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == package or name.startswith(package + ".") for package in WATCHED):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                found[id(value)] = value
    import torch

    for base in torch.Tensor.__mro__:
        found[id(base)] = base
    return list(found.values())


def snapshot() -> Snapshot:
    return {cls: dict(vars(cls)) for cls in _classes()}


def changes(before: Snapshot) -> list[str]:
    """``Class.attribute`` for each attribute added, removed or rebound since ``before``, but for the
    two that PyTorch and Python write themselves on first use (``_lazily_set``)."""
    changed = []
    for cls, attributes in before.items():
        now = vars(cls)
        for name in attributes.keys() | now.keys():
            old, new = attributes.get(name, _ABSENT), now.get(name, _ABSENT)
            if old is not new and not _lazily_set(name, old, new):
                changed.append(f"{cls.__qualname__}.{name}")
    return sorted(changed)


def _lazily_set(name: str, old: object, new: object) -> bool:
    """``__slotnames__``, which ``copyreg`` caches on a class the first time one of its instances is
    copied or pickled; an optimizer's ``step``, which PyTorch wraps once, at the first instance of its
    class, in a profiling wrapper marked ``hooked`` around the method it replaces."""
    if name == "__slotnames__" and old is _ABSENT:
        return True
    return name == "step" and getattr(new, "hooked", None) is True and getattr(new, "__wrapped__", None) is old
