"""Scoring every pair of students by the fingerprints they share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

from .fingerprints import Fingerprints, K

COMMON_SHARE = 0.25   # a fingerprint in more than this share of the class is common idiom...
COMMON_FLOOR = 10     # ...once more than this many students have it, so that no small group of copies is hidden


@dataclass(frozen=True)
class Review:
    """When a pair is listed for review: the similarity and the length of the matching code both count, so a
    few shared lines in two nearly empty notebooks do not make a pair."""
    threshold: float = 0.5
    min_tokens: int = 60


@dataclass(frozen=True)
class Pair:
    a: Fingerprints
    b: Fingerprints
    shared: int                       # fingerprints both have (common ones left out)
    share_a: float                    # the share of a's fingerprints that b has too
    share_b: float
    matched_tokens: int               # how long the matching code is, on the side where it is shorter

    @property
    def similarity(self) -> float:
        """The larger share: a student whose whole answer is found in another's stands out even when the
        other wrote more."""
        return max(self.share_a, self.share_b)

    def to_review(self, review: Review) -> bool:
        return self.similarity >= review.threshold and self.matched_tokens >= review.min_tokens


def common_limit(students: int) -> int:
    """The most students a fingerprint may be found in and still count."""
    return max(COMMON_FLOOR, int(COMMON_SHARE * students))


def runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    """The tokens that K-grams starting at ``positions`` cover, merged into [start, end) runs."""
    merged: list[tuple[int, int]] = []
    for position in sorted(positions):
        if merged and position <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], position + K))
        else:
            merged.append((position, position + K))
    return merged


def _covered(student: Fingerprints, values: set[int]) -> int:
    return sum(end - start for start, end in runs(p for value in values for p in student.positions[value]))


def regions(a: Fingerprints, b: Fingerprints) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The code the two have in common, as runs of each one's tokens: every K-gram they share, not only
    the kept ones, so that a region is shown whole."""
    both = (set(a.kgrams) & set(b.kgrams)) - {None}

    def shared_runs(student: Fingerprints) -> list[tuple[int, int]]:
        return runs(position for position, value in enumerate(student.kgrams) if value in both)

    return shared_runs(a), shared_runs(b)


def score_pairs(prints: list[Fingerprints], limit: int, review: Review) -> tuple[list[Pair], int]:
    """Every pair that shares a fingerprint, those to review first, then by similarity, and how many
    fingerprints were left out as common (found in more than ``limit`` students)."""
    owners: dict[int, list[int]] = {}
    for index, student in enumerate(prints):
        for value in student.positions:
            owners.setdefault(value, []).append(index)
    common = {value for value, who in owners.items() if len(who) > limit}
    counted = [student.positions.keys() - common for student in prints]
    shared: Counter[tuple[int, int]] = Counter()
    for value, who in owners.items():
        if value not in common:
            shared.update(combinations(who, 2))
    pairs = []
    for (i, j), count in shared.items():
        a, b = prints[i], prints[j]
        both = counted[i] & counted[j]
        pairs.append(Pair(a, b, count, count / len(counted[i]), count / len(counted[j]),
                          min(_covered(a, both), _covered(b, both))))
    pairs.sort(key=lambda pair: (not pair.to_review(review), -pair.similarity, -pair.matched_tokens,
                                 pair.a.student, pair.b.student))
    return pairs, len(common)
