"""The CSV of pair scores, for sorting and filtering in a spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..results import write_text_atomically
from .pairs import Pair, Review

COLUMNS = ["student_a", "student_b", "similarity", "share_a", "share_b", "matched_tokens", "shared_fingerprints",
           "review"]


def write_scores_csv(path: Path, pairs: list[Pair], review: Review) -> None:
    """One row per pair that shares at least one fingerprint, most similar first; ``share_a`` is the share of
    a's fingerprints found in b's answers, ``similarity`` the larger share, ``review`` yes or no."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for pair in pairs:
        writer.writerow([pair.a.student, pair.b.student, f"{pair.similarity:.3f}", f"{pair.share_a:.3f}",
                         f"{pair.share_b:.3f}", pair.matched_tokens, pair.shared,
                         "yes" if pair.to_review(review) else "no"])
    write_text_atomically(path, buffer.getvalue())
