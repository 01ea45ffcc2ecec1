"""The parameter-count answers, judged from the answer cell's source: the notebook asks for an
arithmetic expression so that the reasoning is visible, so only numbers and arithmetic count. The
hidden grader applies ``literal_answer`` to the answer cell; the notebook's self-checks call
``check_arithmetic_answer``, which applies the same rule to the cell the student last ran.

Nothing here runs student code: the source is parsed with ``ast`` and evaluated by a tiny interpreter
that knows numbers, ``+ - * / // % **``, parentheses and names bound earlier in the same cell to such
expressions.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from typing import TypeGuard

LARGEST = 10**12          # far above any parameter count; bounds the work of evaluating an answer
LONGEST_SOURCE = 20_000   # characters of an answer cell
OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
             ast.Pow: lambda a, b: a ** b}


class NotArithmetic(ValueError):
    """The answer is not a literal arithmetic expression; the message says what it is instead."""


def _evaluate(node: ast.AST, names: dict[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        if abs(node.value) > LARGEST:
            raise NotArithmetic("it holds a number far larger than any parameter count")
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise NotArithmetic("it raises a number to a power too large to be a parameter count")
        try:
            result = OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise NotArithmetic("it divides by zero") from None
        if abs(result) > LARGEST:
            raise NotArithmetic("it computes a number far larger than any parameter count")
        return result
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise NotArithmetic(f"it uses {node.id}, which is not a number written in this cell")
    if isinstance(node, ast.Call):
        called = ast.unparse(node.func)[:40]
        raise NotArithmetic(f"it calls {called}(), which counts for you; write the count as arithmetic on numbers")
    raise NotArithmetic(f"it contains {type(node).__name__.lower()} syntax, not only numbers and arithmetic")


def _evaluate_whole(node: ast.AST, names: dict[str, float]) -> float:
    try:
        return _evaluate(node, names)
    except RecursionError:
        raise NotArithmetic("it is nested too deeply") from None


def _all_names(nodes: list[ast.expr]) -> TypeGuard[list[ast.Name]]:
    return all(isinstance(node, ast.Name) for node in nodes)


def _assignments(statement: ast.stmt) -> list[tuple[str, ast.expr]]:
    """(name, expression) pairs one statement binds: ``a = b = expr``, ``a += expr``, ``a: int = expr`` and
    the unpacking of a literal tuple, ``a, b = expr1, expr2``."""
    if isinstance(statement, ast.AugAssign) and isinstance(statement.target, ast.Name):
        name = statement.target.id
        return [(name, ast.BinOp(left=ast.Name(name), op=statement.op, right=statement.value))]
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value:
        return [(statement.target.id, statement.value)]
    if not isinstance(statement, ast.Assign):
        return []
    if _all_names(statement.targets):
        return [(target.id, statement.value) for target in statement.targets]
    target, value = statement.targets[0], statement.value
    if (len(statement.targets) == 1 and isinstance(target, (ast.Tuple, ast.List))
            and isinstance(value, (ast.Tuple, ast.List)) and len(target.elts) == len(value.elts)
            and _all_names(target.elts)):
        return [(name.id, expr) for name, expr in zip(target.elts, value.elts, strict=True)]
    return []


def literal_answer(source: str | Sequence[str], variable: str) -> float:
    """The value the cell assigns to ``variable``, if it is a literal arithmetic expression; raises
    ``NotArithmetic`` with the reason otherwise. ``source`` may be the parts of a cell split in two (or
    copied), in the notebook's order: names carry from one part to the next, and a part that is not valid
    Python is passed over, as "Run All" goes on past a cell that fails."""
    parts = [source] if isinstance(source, str) else list(source)
    if sum(map(len, parts)) > LONGEST_SOURCE:
        raise NotArithmetic("the answer cell is too long to be a parameter count")
    statements = []
    for part in parts:
        try:
            statements += ast.parse(part).body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            if len(parts) == 1:
                raise NotArithmetic("the answer cell is not valid Python") from None
    names: dict[str, float] = {}
    failures: dict[str, str] = {}
    for statement in statements:
        results: dict[str, float | NotArithmetic] = {}
        for target, value in _assignments(statement):  # every right-hand side is read before any name is bound
            try:
                results[target] = _evaluate_whole(value, names)
            except NotArithmetic as reason:
                results[target] = reason
        for target, result in results.items():
            if isinstance(result, NotArithmetic):
                names.pop(target, None)
                failures[target] = str(result)
            else:
                names[target] = result
                failures.pop(target, None)
    if variable in failures:
        raise NotArithmetic(failures[variable])
    if variable not in names:
        raise NotArithmetic(f"{variable} is not assigned in its answer cell")
    return names[variable]


# What the notebook's self-check says when an answer does not qualify (the grader's rule, in words).
RULE = ("layer by layer, with numbers, + - * / // % ** and parentheses only (names set earlier in the same "
        "cell to such expressions are fine), for example (3 * 4 + 4) + (4 * 2 + 2) for a 3 -> 4 -> 2 network")
NO_POINTS = ("The grader reads your answer cell and gives no points for a count computed by code "
             "(count_parameters, numel, summary, ...), even a right one.")


def _bindings(tree: ast.AST):
    """The nodes of ``tree`` outside function, lambda and class bodies (the cell's own namespace)."""
    for child in ast.iter_child_nodes(tree):
        if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield child
            yield from _bindings(child)


def assigns(source: str, variable: str) -> bool:
    """Whether the cell ``source`` binds ``variable`` in the notebook's namespace. A cell that is not
    plain Python (say, a magic) counts when a line of it starts with an assignment to ``variable``."""
    if len(source) > LONGEST_SOURCE:
        raise NotArithmetic("the answer cell is too long to be a parameter count")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pattern = rf"^[ \t]*{re.escape(variable)}[ \t]*(:[^=\n]*)?(\*\*|//|>>|<<|[-+*/%@&|^])?=(?!=)"
        return re.search(pattern, source, re.M) is not None
    return any(isinstance(node, ast.Name) and node.id == variable and isinstance(node.ctx, ast.Store)
               for node in _bindings(tree))


def _input_history() -> Sequence[str]:
    """The source of every cell run so far in this IPython kernel, oldest first, as typed."""
    try:
        from IPython import get_ipython
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is None:
        raise RuntimeError("check_arithmetic_answer reads the cells you ran: call it in a Jupyter notebook")
    manager = getattr(shell, "history_manager", None)
    raw = getattr(manager, "input_hist_raw", None)
    return raw if raw is not None else shell.user_ns.get("In", [])


def _shown(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def check_arithmetic_answer(variable: str, expected: float | None = None, *,
                            history: Sequence[str] | None = None) -> float:
    """The notebook's self-check of a parameter-count answer, by the grader's rule.

    Finds the most recently run cell that assigns ``variable`` (in ``history``, by default this IPython
    kernel's input history), judges its source with ``literal_answer`` and raises ``AssertionError``
    saying what is wrong: not arithmetic on numbers (and why), not a whole number, or, when ``expected``
    is given (the count of the student's own model), a different number. The message never shows
    ``expected``. Returns the answer's value.
    """
    cells = _input_history() if history is None else history
    source = next((cell for cell in reversed(cells) if isinstance(cell, str) and assigns(cell, variable)), None)
    if source is None:
        raise AssertionError(f"{variable} is not assigned in any cell you ran: write {variable} = ... in its "
                             f"answer cell and run that cell")
    try:
        value = literal_answer(source, variable)
    except NotArithmetic as reason:
        raise AssertionError(f"{variable} must be written as arithmetic on numbers, {RULE}; "
                             f"{reason}. {NO_POINTS}") from None
    if not float(value).is_integer():
        raise AssertionError(f"{variable} = {_shown(value)} is not a whole number; a parameter count is one")
    if expected is not None and value != expected:
        raise AssertionError(
            f"{variable} = {_shown(value)} is not the number of parameters of your model. Recount layer by "
            f"layer: nn.Linear(n_in, n_out) holds n_in * n_out weights and n_out biases, nn.Conv2d(c_in, "
            f"c_out, k) holds c_out * c_in * k * k weights and c_out biases; the table printed above lists "
            f"each layer's count")
    return value
