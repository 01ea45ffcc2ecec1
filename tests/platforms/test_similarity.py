"""The class similarity report: a disguised copy is the top pair, honest solutions and the release's
given code are not flagged, the page is safe and self-contained, bad input never spoils the report."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.similarity.fingerprints import Fingerprints, fingerprint, kgram_hashes
from autograder.similarity.pairs import Review, common_limit, score_pairs
from autograder.similarity.tokens import lex
from classmates import HONEST, RELEASE, SOLUTION, answer_cells, disguised_copy, filled, honest, submit
from conftest import ROOT

COLUMNS = ["student_a", "student_b", "similarity", "share_a", "share_b", "matched_tokens", "shared_fingerprints",
           "review"]
HOSTILE = '"</script><script>alert(1)</script>"'
NAME = "<img src=x onerror=alert(1)>"      # a student id is a folder name, and can be anything but a slash


def similarity(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["similarity", *map(str, args)])
    return status, out.getvalue(), err.getvalue()


def rows(course: Path) -> list[dict[str, str]]:
    with open(course / "similarity" / "cnn_similarity.csv", newline="") as table:
        return list(csv.DictReader(table))


def pair_of(row: dict[str, str]) -> set[str]:
    return {row["student_a"], row["student_b"]}


def release_fingerprints(student: str, answers: dict[str, str]) -> Fingerprints:
    release = [lex(grade_id, source) for grade_id, source in answer_cells(RELEASE).items()]
    return fingerprint(student, answers, release)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A class: the solution (ada) and a disguised copy of it (ben), three honest students with styles of
    their own, two untouched releases (fay, gus) and two students with the same one-line answers (hal, ian)."""
    root = tmp_path_factory.mktemp("course")
    submit(root, "ada", answer_cells(SOLUTION), base=SOLUTION)
    submit(root, "ben", disguised_copy(answer_cells(SOLUTION)))
    for name, bodies in HONEST.items():
        submit(root, name, honest(bodies))
    for name in ("fay", "gus"):
        submit(root, name, {})
    tiny = filled(answer_cells(RELEASE)["loss_opt"],
                  "criterion = nn.CrossEntropyLoss()\nopt = torch.optim.SGD(model_fc.parameters(), lr=0.1)")
    for name in ("hal", "ian"):
        submit(root, name, {"loss_opt": tiny})
    return root


@pytest.fixture(scope="module")
def report(course) -> tuple[int, str, str]:
    return similarity(course)


def test_a_disguised_copy_is_the_top_pair(course, report):
    status, out, _ = report
    assert status == 0
    top, *rest = rows(course)
    assert pair_of(top) == {"ada", "ben"} and top["review"] == "yes", top
    assert float(top["similarity"]) >= 0.85 and int(top["matched_tokens"]) >= 500
    assert [row for row in rest if row["review"] == "yes"] == []
    assert "ada and ben" in out and "never a verdict of cheating" in out


def test_independent_honest_solutions_stay_below_the_threshold(course, report):
    independent = {"ada", *HONEST}
    scores = {frozenset(pair_of(row)): row for row in rows(course)}
    for pair in combinations(sorted(independent), 2):
        row = scores.get(frozenset(pair))
        assert row is None or (row["review"] == "no" and float(row["similarity"]) < Review.threshold / 2), row
    # the copy, too, is no closer to the honest students than the solution it came from
    for name in HONEST:
        assert float(scores[frozenset({"ben", name})]["similarity"]) < Review.threshold / 2


def test_code_given_in_the_release_never_counts(course, report):
    named = [pair_of(row) for row in rows(course)]
    assert not [pair for pair in named if pair & {"fay", "gus"}], "an untouched release shares nothing"
    untouched = release_fingerprints("fay", answer_cells(RELEASE))
    assert untouched.positions == {} and set(untouched.kgrams) == {None}
    within_cells = [position for position, value in enumerate(kgram_hashes(untouched.tokens)) if value is not None]
    assert untouched.given == within_cells and len(within_cells) > 200   # every K-gram is the release's own
    # the same one-line answers in two otherwise empty notebooks: too little code to be a pair to review
    tiny = next(row for row in rows(course) if pair_of(row) == {"hal", "ian"})
    assert tiny["review"] == "no" and int(tiny["matched_tokens"]) < Review.min_tokens


def test_given_code_around_different_answers_is_not_similarity():
    """train_model is mostly given code: two students who fill in different loops share only that."""
    skeleton = answer_cells(RELEASE)
    first, second = (
        release_fingerprints(name, {"train_model": filled(skeleton["train_model"], *HONEST[name]["train_model"])})
        for name in ("sequential", "step_by_step"))
    pairs, _ = score_pairs([first, second], common_limit(2), Review())
    assert all(pair.similarity < 0.3 for pair in pairs), [(p.similarity, p.matched_tokens) for p in pairs]
    assert len(first.given) > 2 * len(first.positions)


def test_fingerprints_found_across_much_of_a_class_are_common_idiom():
    students = [Fingerprints(f"s{i}", {}, [], {1: [0], 2: [20]} if i < 2 else {1: [0], 100 + i: [20]}, [], [])
                for i in range(12)]
    pairs, common = score_pairs(students, common_limit(len(students)), Review())
    assert common == 1 and common_limit(12) == 10
    assert [(pair.a.student, pair.b.student, pair.shared) for pair in pairs] == [("s0", "s1", 1)]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_page_escapes_student_code_and_highlights_matches(tmp_path):
    hostile = honest(HONEST["functional"])
    hostile["fc_class"] = hostile["fc_class"].replace("return self.out(x)", f"return self.out(x)  # {HOSTILE}")
    hostile["loss_opt"] += f"\nnote = {HOSTILE}\n"
    submit(tmp_path, NAME, hostile)
    submit(tmp_path, "mel", hostile)
    submit(tmp_path, "ned", honest(HONEST["sequential"]))
    status, _, _ = similarity(tmp_path, "--out", tmp_path / "report", "--top", 1)
    assert status == 0
    page = (tmp_path / "report" / "cnn_similarity.html").read_text()
    parsed = _Page()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert all(link.startswith("#pair-") for link in parsed.links), parsed.links
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert parsed.tags.count("mark") > 5 and '<span class="given">' in page
    assert 'id="pair-1"' in page and 'id="pair-2"' not in page      # --top 1
    assert "never a verdict of cheating" in page
    with open(tmp_path / "report" / "cnn_similarity.csv", newline="") as table:
        lines = list(csv.reader(table))
    assert lines[0] == COLUMNS
    assert tuple(lines[1][:2]) == (NAME, "mel") and lines[1][-1] == "yes"
    for line in lines[1:]:
        assert len(line) == len(COLUMNS) and all(0 <= float(value) <= 1 for value in line[2:5])
        assert line[-1] in ("yes", "no") and int(line[5]) >= 0 and int(line[6]) >= 1


def test_a_garbage_notebook_is_skipped_and_the_rest_reported(tmp_path):
    submit(tmp_path, "ada", answer_cells(SOLUTION), base=SOLUTION)
    submit(tmp_path, "ben", disguised_copy(answer_cells(SOLUTION)))
    for name, content in {"cal": '{"cells": [', "dot": "[1, 2]", "eli": '{"cells": [{"cell_type": "code"}]}'}.items():
        folder = tmp_path / "submitted" / name / "cnn"
        folder.mkdir(parents=True)
        (folder / "cnn.ipynb").write_text(content)
    (tmp_path / "submitted" / "fin" / "cnn").mkdir(parents=True)   # a folder without the notebook
    status, out, err = similarity(tmp_path)
    assert status == 0 and err == ""
    for name in ("cal", "dot", "eli", "fin"):
        assert f"skipped {name}: " in out
    assert "compared 2 submissions (4 skipped)" in out
    assert [pair_of(row) for row in rows(tmp_path)] == [{"ada", "ben"}]
    assert "skipped" in (tmp_path / "similarity" / "cnn_similarity.html").read_text().lower()


@pytest.mark.parametrize("layout", ["missing", "no submissions", "only garbage"])
def test_nothing_to_compare_is_a_one_line_error(tmp_path, layout):
    course = tmp_path / "course"
    if layout != "missing":
        (course / "submitted").mkdir(parents=True)
    if layout == "only garbage":
        (course / "submitted" / "cal" / "cnn").mkdir(parents=True)
        (course / "submitted" / "cal" / "cnn" / "cnn.ipynb").write_text("not json")
    result = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(course)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("autograder: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not (course / "similarity").exists()


def test_the_benchmark_script_runs(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark_similarity.py"), "--students", "6",
                             "--baseline", "3"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "6 students:" in result.stdout and "3 students:" in result.stdout
    assert "per 100 students" in result.stdout
