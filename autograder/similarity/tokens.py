"""An answer cell as the token stream its fingerprints are taken from.

Layout and comments are dropped, literals and the names a student chose are replaced by placeholders:
a copier changes those first, and they say nothing about what the code does. Keywords, operators and
the names the code merely uses (``nn.Linear``, ``F.relu``, ``zero_grad``) stay as written, so that two
different pieces of code do not look alike just because both are short.
"""

from __future__ import annotations

import contextlib
import io
import keyword
import tokenize
from dataclasses import dataclass

MAX_CELL_CHARS = 20_000     # ten times a long real answer; a hostile cell cannot cost the class much time
_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
           tokenize.ENCODING, tokenize.ENDMARKER}
_ASSIGNMENTS = {"=", "+=", "-=", "*=", "/=", "//=", "%=", "**=", "@=", "&=", "|=", "^=", ">>=", "<<=", ":="}
_BINDING_KEYWORDS = {"def", "class", "as", "global", "nonlocal"}


@dataclass(frozen=True)
class Token:
    text: str       # the normalised text: "V" for a chosen name, "N" a number, "S" a string, else as written
    cell: str       # the answer cell's grade id
    start: int      # character offsets in that cell's source
    end: int


@dataclass(frozen=True)
class LexedCell:
    """An answer cell read once, normalised as often as needed (under the names of each student)."""
    grade_id: str
    source: str                             # cut at MAX_CELL_CHARS
    lexed: list[tokenize.TokenInfo]         # Python's own tokens, up to the first error if it does not lex
    line_starts: list[int]


def lex(grade_id: str, source: str) -> LexedCell:
    """Lexing is the costly part: done once per cell, and it never fails (student code may not even parse)."""
    source = source[:MAX_CELL_CHARS]
    line_starts = [0]
    for line in io.StringIO(source):
        line_starts.append(line_starts[-1] + len(line))
    lexed: list[tokenize.TokenInfo] = []
    with contextlib.suppress(tokenize.TokenError, SyntaxError):
        lexed.extend(tokenize.generate_tokens(io.StringIO(source).readline))
    return LexedCell(grade_id, source, lexed, line_starts)


def _statements(lexed: list[tokenize.TokenInfo]) -> list[list[tokenize.TokenInfo]]:
    """The logical lines, each without its layout tokens."""
    statements: list[list[tokenize.TokenInfo]] = [[]]
    for token in lexed:
        if token.type == tokenize.NEWLINE or token.string == ";":
            statements.append([])
        elif token.type not in _LAYOUT:
            statements[-1].append(token)
    return [statement for statement in statements if statement]


def _depths(texts: list[str]) -> list[int]:
    """How deep in brackets each token stands (an opening bracket counts as outside)."""
    depths, depth = [], 0
    for text in texts:
        depth -= text in (")", "]", "}")
        depths.append(depth)
        depth += text in ("(", "[", "{")
    return depths


def _bound_in(statement: list[tokenize.TokenInfo]) -> set[str]:
    """Names this statement binds: assignment targets (the last name of a dotted target, so ``self.fc1 = ...``
    binds ``fc1``), names after ``def``/``class``/``as``, parameters, and loop and lambda variables."""
    texts = [token.string for token in statement]
    depths = _depths(texts)
    targets_end = max((i for i, text in enumerate(texts) if depths[i] == 0 and text in _ASSIGNMENTS), default=-1)
    annotation = next((i for i, text in enumerate(texts) if depths[i] == 0 and text == ":"), len(texts))
    is_def = "def" in texts[:2]
    bound: set[str] = set()
    in_loop_target = in_lambda = False
    for index, (token, text, depth) in enumerate(zip(statement, texts, depths, strict=True)):
        before = texts[index - 1] if index else ""
        after = texts[index + 1] if index + 1 < len(texts) else ""
        in_loop_target = (in_loop_target or text == "for") and text != "in"
        in_lambda = (in_lambda or text == "lambda") and text != ":"
        if token.type != tokenize.NAME or keyword.iskeyword(text):
            continue
        is_target = index < min(targets_end, annotation) and depth == 0 and after != "."
        is_parameter = is_def and depth == 1 and before in ("(", ",", "*", "**")
        if is_target or is_parameter or in_loop_target or in_lambda or before in _BINDING_KEYWORDS:
            bound.add(text)
    return bound


def chosen_names(cells: list[LexedCell]) -> set[str]:
    """Every name bound anywhere in these cells: such a name is a placeholder in all its uses."""
    return {name for cell in cells for statement in _statements(cell.lexed) for name in _bound_in(statement)}


def _normalised(token: tokenize.TokenInfo, chosen: set[str]) -> str | None:
    kind = tokenize.tok_name[token.type]
    if kind == "NAME":
        return "V" if token.string in chosen and not keyword.iskeyword(token.string) else token.string
    if kind == "NUMBER":
        return "N"
    if kind == "STRING" or kind.startswith("FSTRING"):
        return "S"
    if token.type in _LAYOUT or token.string == ";" or not token.string.strip():
        return None
    return token.string


def normalised(cells: list[LexedCell], chosen: set[str]) -> list[Token]:
    """The normalised tokens of the cells, one stream, each token with where it stands in its cell."""
    found = []
    for cell in cells:
        for token in cell.lexed:
            text = _normalised(token, chosen)
            if text is not None:
                (start_row, start_col), (end_row, end_col) = token.start, token.end
                found.append(Token(text, cell.grade_id, cell.line_starts[start_row - 1] + start_col,
                                   cell.line_starts[end_row - 1] + end_col))
    return found
