"""The parameter-count answers, judged from the answer cell's source: the notebook asks for an
arithmetic expression so that the reasoning is visible, so only numbers and arithmetic count. The
notebook's self-check and the hidden grader use this same rule.

Nothing here runs student code: the source is parsed with ``ast`` and evaluated by a tiny interpreter
that knows numbers, ``+ - * / // % **``, parentheses and names bound earlier in the same cell to such
expressions.
"""

from __future__ import annotations

import ast

OPERATORS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
             ast.Pow: lambda a, b: a ** b}


class NotArithmetic(ValueError):
    """The answer is not a literal arithmetic expression; the message says what it is instead."""


def _evaluate(node: ast.AST, names: dict[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
        left, right = _evaluate(node.left, names), _evaluate(node.right, names)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 10**6):
            raise NotArithmetic("it raises a number to a power too large to be a parameter count")
        try:
            return OPERATORS[type(node.op)](left, right)
        except ZeroDivisionError:
            raise NotArithmetic("it divides by zero") from None
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise NotArithmetic(f"it uses {node.id}, which is not a number written in this cell")
    if isinstance(node, ast.Call):
        called = ast.unparse(node.func)[:40]
        raise NotArithmetic(f"it calls {called}(), which counts for you; write the count as arithmetic on numbers")
    raise NotArithmetic(f"it contains {type(node).__name__.lower()} syntax, not only numbers and arithmetic")


def literal_answer(source: str, variable: str) -> float:
    """The value the cell assigns to ``variable``, if it is a literal arithmetic expression; raises
    ``NotArithmetic`` with the reason otherwise."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        raise NotArithmetic("the answer cell is not valid Python") from None
    names: dict[str, float] = {}
    failures: dict[str, str] = {}
    for statement in tree.body:
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            value = statement.value
            if value is None or not all(isinstance(t, ast.Name) for t in targets):
                continue
            if isinstance(statement, ast.AugAssign):
                value = ast.BinOp(left=ast.Name(targets[0].id), op=statement.op, right=value)
            try:
                result = _evaluate(value, names)
            except NotArithmetic as reason:
                for target in targets:
                    names.pop(target.id, None)
                    failures[target.id] = str(reason)
                continue
            for target in targets:
                names[target.id] = result
                failures.pop(target.id, None)
    if variable in failures:
        raise NotArithmetic(failures[variable])
    if variable not in names:
        raise NotArithmetic(f"{variable} is not assigned in its answer cell")
    return names[variable]
