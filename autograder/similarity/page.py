"""The HTML page: the most similar pairs, each with both students' answer cells side by side and the
matching code highlighted. Self-contained (inline CSS, no scripts, nothing fetched); every piece of
student text is escaped, since a notebook can hold anything."""

from __future__ import annotations

from html import escape

from .answers import Skipped
from .fingerprints import WINDOW, Fingerprints, K
from .pairs import COMMON_FLOOR, COMMON_SHARE, Pair, Review, regions, runs

NOT_A_VERDICT = ("These are pairs to review, never a verdict of cheating: similar code has innocent causes too "
                 "(a common textbook pattern, working from the same lecture notes), and only a person reading "
                 "both notebooks can judge.")
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.notice { border: 2px solid #b3261e; padding: 0.6em 1em; max-width: 60em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
.side td { width: 50%; }
pre { margin: 0; white-space: pre-wrap; font-size: 0.85em; }
mark { background: #ffd54f; }
.given { color: #999; }
"""


def _spans(student: Fingerprints, matched: list[tuple[int, int]]) -> dict[str, list[tuple[int, int, str]]]:
    """Per cell, the character ranges to mark: code matching the other student, and given code."""
    label: dict[int, str] = {}
    for kind, token_runs in (("given", runs(student.given)), ("match", matched)):
        for start, end in token_runs:
            label.update(dict.fromkeys(range(start, end), kind))
    spans: dict[str, list[tuple[int, int, str]]] = {}
    previous = None
    for index in sorted(label):
        token, kind = student.tokens[index], label[index]
        cell = spans.setdefault(token.cell, [])
        if cell and previous == index - 1 and cell[-1][2] == kind:
            cell[-1] = (cell[-1][0], token.end, kind)
        else:
            cell.append((token.start, token.end, kind))
        previous = index
    return spans


def _code(source: str, spans: list[tuple[int, int, str]]) -> str:
    parts, at = [], 0
    for start, end, kind in spans:
        opening, closing = ("<mark>", "</mark>") if kind == "match" else ('<span class="given">', "</span>")
        parts += [escape(source[at:start]), opening, escape(source[start:end]), closing]
        at = end
    parts.append(escape(source[at:]))
    return f"<pre>{''.join(parts)}</pre>"


def _side_by_side(rank: int, pair: Pair, review: Review) -> str:
    a, b = pair.a, pair.b
    spans_a, spans_b = (_spans(student, shared) for student, shared in zip((a, b), regions(a, b), strict=True))
    rows = []
    for cell in dict.fromkeys([*a.cells, *b.cells]):
        left = _code(a.cells[cell], spans_a.get(cell, [])) if cell in a.cells else "<em>no such cell</em>"
        right = _code(b.cells[cell], spans_b.get(cell, [])) if cell in b.cells else "<em>no such cell</em>"
        rows.append(f'<tr><th colspan="2">{escape(cell)}</th></tr><tr><td>{left}</td><td>{right}</td></tr>')
    verdict = "at or above the review threshold" if pair.to_review(review) else "below the review threshold"
    return (f'<h2 id="pair-{rank}">{rank}. {escape(a.student)} and {escape(b.student)}</h2>'
            f"<p>similarity {pair.similarity:.0%} ({verdict}): {pair.share_a:.0%} of {escape(a.student)}'s "
            f"fingerprints are in {escape(b.student)}'s answers, {pair.share_b:.0%} the other way; "
            f"{pair.matched_tokens} matching tokens.</p>"
            f'<table class="side"><tr><th>{escape(a.student)}</th><th>{escape(b.student)}</th></tr>'
            f'{"".join(rows)}</table>')


def _summary(pairs: list[Pair], review: Review) -> str:
    rows = [f'<tr><td><a href="#pair-{rank}">{rank}</a></td><td>{escape(p.a.student)}</td>'
            f"<td>{escape(p.b.student)}</td><td>{p.similarity:.0%}</td><td>{p.share_a:.0%}</td>"
            f"<td>{p.share_b:.0%}</td><td>{p.matched_tokens}</td><td>{'yes' if p.to_review(review) else 'no'}</td></tr>"
            for rank, p in enumerate(pairs, 1)]
    return ("<table><tr><th>#</th><th>student a</th><th>student b</th><th>similarity</th><th>a in b</th>"
            "<th>b in a</th><th>matching tokens</th><th>to review</th></tr>" + "".join(rows) + "</table>")


def render_page(assignment: str, pairs: list[Pair], review: Review, compared: int, skipped: list[Skipped],
                common: int) -> str:
    """The page for the ``pairs`` to show (the most similar first)."""
    flagged = sum(pair.to_review(review) for pair in pairs)
    skipped_list = "".join(f"<li>{escape(s.student)}: {escape(s.reason)}</li>" for s in skipped)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Similarity report: {escape(assignment)}</title>
<style>{STYLE}</style></head><body>
<h1>Similarity report: {escape(assignment)}</h1>
<p class="notice"><strong>{NOT_A_VERDICT}</strong></p>
<p>{compared} submissions compared; the {len(pairs)} most similar pairs are shown, {flagged} of them at or above the
review threshold (similarity {review.threshold:.0%} and at least {review.min_tokens} matching tokens).
Only the answer cells count, with the code the release gives students left out (shown in grey); names and
literals are normalised, comments and layout ignored, and the order of functions and statements does not
matter. Similarity is the larger of the two shares of fingerprints (runs of {K} tokens, winnowed in windows
of {WINDOW}) that one student's answers share with the other's. {common} fingerprints found in more than
{COMMON_SHARE:.0%} of the submissions (and more than {COMMON_FLOOR}) were left out as common idiom.
<mark>Highlighted</mark> code matches the other student's.</p>
{f"<p>Skipped (could not be read):</p><ul>{skipped_list}</ul>" if skipped else ""}
{_summary(pairs, review) if pairs else "<p>No two submissions share any code beyond what the release gives.</p>"}
{"".join(_side_by_side(rank, pair, review) for rank, pair in enumerate(pairs, 1))}
</body></html>
"""
