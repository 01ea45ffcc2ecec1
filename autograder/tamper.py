"""A tripwire on the code the checks run on, for a way in that no screen foresaw.

Loading a student's graph runs PyTorch's own loader in the grader's process. A record that led it to
write into an object it walks (``graph_record`` closes every way known) would change PyTorch for
every check after it and, in a batch worker, for every later submission. So the code the checks rely
on (PyTorch's modules, graphs, export, operators, fake tensors, tensors, autograd and optimizers; the
grader's own package and ``helpers``) is recorded before a submission's checks and compared after
them: each class's behaviour (its methods, properties and other descriptors, the classes it holds),
each function and class a module holds, and each function's code and defaults. Such an attribute
added, removed or rebound, a function or class a module held rebound or removed, or a function's code
or defaults replaced voids that submission's checks (they ran on a changed grader) and retires the
process, so that the next submission is graded by a fresh one (``bounds.retire``). What this does not
see: a change made inside a mutable value (a set's members, a dict's entries), a class attribute
that holds data (PyTorch counts cache hits in some), a module-level value other than a function or
class.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

WATCHED = ("torch.nn", "torch.fx", "torch.export", "torch._export", "torch.utils._pytree", "torch._tensor",
           "torch.autograd", "torch.optim", "torch.functional", "torch._ops", "torch._subclasses",
           "torch.utils.flop_counter", "autograder", "helpers")
CODE = ("__code__", "__defaults__", "__kwdefaults__")
_ABSENT = object()


@dataclass
class Snapshot:
    classes: dict[type, dict[str, object]]                       # each class's own attributes
    held: dict[tuple[str, str], object]                          # (module, name): a function or class it holds
    code: dict[types.FunctionType, tuple[object, ...]]           # each function's code and defaults


def _modules() -> list[tuple[str, types.ModuleType]]:
    return [(name, module) for name, module in list(sys.modules.items()) if module is not None
            and any(name == package or name.startswith(package + ".") for package in WATCHED)]


def snapshot() -> Snapshot:
    import torch

    classes: dict[type, dict[str, object]] = {base: dict(vars(base)) for base in torch.Tensor.__mro__}
    held: dict[tuple[str, str], object] = {}
    for name, module in _modules():
        for attribute, value in list(vars(module).items()):
            if isinstance(value, type):
                held[name, attribute] = value
                if value.__module__ == name:
                    classes[value] = dict(vars(value))
            elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
                held[name, attribute] = value
    functions = [value for value in held.values() if isinstance(value, types.FunctionType)]
    functions += [value for attributes in classes.values() for value in attributes.values()
                  if isinstance(value, types.FunctionType)]
    return Snapshot(classes, held, {function: _code(function) for function in functions})


def _code(function: types.FunctionType) -> tuple[object, ...]:
    return tuple(getattr(function, part) for part in CODE)


def changes(before: Snapshot) -> list[str]:
    """What changed since ``before``, by name (``Class.attribute``, ``module.name``, ``function.__code__``),
    but for the two attributes PyTorch and Python write themselves on first use (``_lazily_set``)."""
    changed = []
    for cls, attributes in before.classes.items():
        now = vars(cls)
        for name in attributes.keys() | now.keys():
            old, new = attributes.get(name, _ABSENT), now.get(name, _ABSENT)
            if old is not new and (_behaviour(old) or _behaviour(new)) and not _lazily_set(name, old, new):
                changed.append(f"{cls.__qualname__}.{name}")
    for (module, name), value in before.held.items():
        if vars(sys.modules[module]).get(name, _ABSENT) is not value:
            changed.append(f"{module}.{name}")
    for function, code in before.code.items():
        changed += [f"{function.__qualname__}.{part}"
                    for part, old, new in zip(CODE, code, _code(function), strict=True) if old is not new]
    return sorted(set(changed))


def _behaviour(value: object) -> bool:
    """Whether a class attribute holding ``value`` decides what the class does (a method, a property
    or another descriptor, a class), not data it keeps."""
    return value is not _ABSENT and (callable(value) or hasattr(type(value), "__get__"))


def _lazily_set(name: str, old: object, new: object) -> bool:
    """``__slotnames__``, which ``copyreg`` caches on a class the first time one of its instances is
    copied or pickled; an optimizer's ``step``, which PyTorch wraps once, at the first instance of its
    class, in a profiling wrapper marked ``hooked`` around the method it replaces."""
    if name == "__slotnames__" and old is _ABSENT:
        return True
    return name == "step" and getattr(new, "hooked", None) is True and getattr(new, "__wrapped__", None) is old
