"""Winnowing (Schleimer, Wilkerson and Aiken, 2003): a few k-gram hashes that stand for a whole document.

Every run of ``K`` normalised tokens is hashed; in each window of ``WINDOW`` consecutive hashes the
smallest is kept. Two documents sharing a passage of at least ``K + WINDOW - 1`` tokens then share at
least one kept hash, wherever the passage stands in either, so moving functions around hides nothing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .tokens import LexedCell, Token, chosen_names, lex, normalised

K = 12          # shorter runs are too common to mean anything (one layer definition is about 11 tokens)
WINDOW = 6      # any passage of 17 tokens or more that two students share is found


def kgram_hashes(tokens: list[Token]) -> list[int | None]:
    """The hash of every K-gram, at the position of its first token; None for a K-gram that spans two cells.
    The hashes depend on the tokens alone (CRC-32 of each, then a tuple hash of integers, which Python
    does not salt), so a report is the same on every run and for every class size."""
    ids = [zlib.crc32(token.text.encode()) for token in tokens]
    return [hash(tuple(ids[position:position + K])) if tokens[position].cell == tokens[position + K - 1].cell else None
            for position in range(len(tokens) - K + 1)]


def winnow(hashes: list[int | None]) -> list[int]:
    """The positions kept: in every window the smallest hash (the rightmost if tied), each position once."""
    kept: list[int] = []
    for start in range(max(1, len(hashes) - WINDOW + 1)):
        window = [(value, -offset) for offset, value in enumerate(hashes[start:start + WINDOW]) if value is not None]
        if window:
            position = start - min(window)[1]
            if not kept or kept[-1] != position:
                kept.append(position)
    return kept


@dataclass(frozen=True)
class Fingerprints:
    """One student's answers: their tokens, the kept hashes that count (with where each occurs), every
    K-gram's hash (None where it is given code), and where their code matches the release's given code
    (shown on the page, never counted)."""
    student: str
    cells: dict[str, str]
    tokens: list[Token]
    positions: dict[int, list[int]]
    kgrams: list[int | None]
    given: list[int]


def fingerprint(student: str, answers: dict[str, str], release: list[LexedCell]) -> Fingerprints:
    """The student's kept hashes less every K-gram of the release's answer cells (all of them, not only
    the kept ones, since the student's winnowing may keep one the release's passed over). The release is
    normalised under the student's own names, so given code reads exactly as it does in their answers,
    even where they bind a name the given code only uses (``loss`` in ``train_model``)."""
    cells = [lex(grade_id, source) for grade_id, source in answers.items()]
    chosen = chosen_names(cells) | chosen_names(release)
    tokens = normalised(cells, chosen)
    hashes = kgram_hashes(tokens)
    given_hashes = set(kgram_hashes(normalised(release, chosen))) - {None}
    positions: dict[int, list[int]] = {}
    for position in winnow(hashes):
        value = hashes[position]
        if value is not None and value not in given_hashes:
            positions.setdefault(value, []).append(position)
    given = [position for position, value in enumerate(hashes) if value in given_hashes]
    kgrams = [None if value in given_hashes else value for value in hashes]
    return Fingerprints(student, {cell.grade_id: cell.source for cell in cells}, tokens, positions, kgrams, given)
