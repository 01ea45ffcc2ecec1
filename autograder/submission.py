"""Reading a submitted notebook and turning it into the program the sandbox runs."""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from .assignment import MODELS, OTHER_CNN_FILTERS, STUDENT_MODULES
from .paths import RELEASE_NOTEBOOK

SKIP_TAG = "skip-grading"
MAX_NOTEBOOK_BYTES = 500 * 1024**2   # no real notebook is this large; outputs play no part in grading
# Python's JSON parser makes an object of every value, some 60 bytes or more each: 500 MB of tiny values
# ("ab","ab",...) would take some 7 GB of the grader's memory. Commas bound the values (and more: those in
# strings count too); a real notebook, long logs and plots included, holds far fewer.
MAX_JSON_COMMAS = 10_000_000
MAX_ANSWER_CHARS = 1024**2           # code in one answer cell: an honest one holds a few thousand characters
MAX_ANSWER_PARTS = 16                # cells that carry one answer cell's id (split or copied): an honest one, a few


class SubmissionError(Exception):
    """The file cannot be graded at all; the message says why (the verdict is 0)."""


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(part for part in source if isinstance(part, str))
    return source if isinstance(source, str) else ""


def _bounded(parts: list[str]) -> list[str]:
    """The cell's parts, or where together they are beyond ``MAX_ANSWER_CHARS`` or more than
    ``MAX_ANSWER_PARTS``, a line that fails with the reason: the checks that need this cell are lost, the
    others not, and the grader never copies the excess (each part is a step of the sandbox's run)."""
    size = sum(map(len, parts))
    if size > MAX_ANSWER_CHARS:
        return [f"raise RuntimeError('this answer cell holds {size:,} characters of code; the grader runs "
                f"at most {MAX_ANSWER_CHARS:,} per cell')"]
    if len(parts) > MAX_ANSWER_PARTS:
        return [f"raise RuntimeError('{len(parts):,} cells carry the id of this answer cell; the grader runs at "
                f"most {MAX_ANSWER_PARTS} of them')"]
    return parts


class Answers(dict[str, list[str]]):
    """The answer cells' source by grade id: one part per cell that carries the id, in the notebook's
    order (a cell split in two in JupyterLab, or copied, keeps nbgrader's id in every part)."""

    def text(self, grade_id: str) -> str:
        """All parts of the answer cell, as one text (what similarity and reports read)."""
        return "\n".join(self[grade_id])

    def repeated(self, grade_ids: Iterable[str]) -> dict[str, int]:
        """How many cells carry each of ``grade_ids`` that more than one does."""
        return {grade_id: len(self[grade_id]) for grade_id in grade_ids if len(self.get(grade_id, ())) > 1}


def read_answers(path: Path) -> Answers:
    """The student's answer cells, by nbgrader grade id. Only the JSON structure and the answer cells'
    source are read: outputs, attachments and everything else in the file play no part. Cells that share
    an id are kept as parts, in the notebook's order, and run one after the other as "Run All" runs them
    (a helper split off into a cell of its own stays defined; of two copies the later one's definitions
    win; a part that does not parse costs only itself)."""
    if not path.is_file():
        raise SubmissionError(f"{path} is not a file")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the file is larger than {MAX_NOTEBOOK_BYTES // 1024**2} MB")
    data = path.read_bytes()
    if data.count(b",") > MAX_JSON_COMMAS:
        raise SubmissionError(f"the notebook holds more than {MAX_JSON_COMMAS:,} JSON values, far more than its code "
                              "needs: clear its outputs (Edit > Clear Outputs of All Cells), save and submit again")
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SubmissionError("the file is not a Jupyter notebook (not valid notebook JSON)") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise SubmissionError("the file is not a Jupyter notebook in the current format (no list of cells)")
    answers = Answers()
    for cell in cells:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        if (isinstance(meta, dict) and cell.get("cell_type") == "code" and meta.get("solution")
                and isinstance(meta.get("grade_id"), str)):
            answers.setdefault(meta["grade_id"], []).append(_source(cell))
    if not answers:
        raise SubmissionError("the notebook has none of the assignment's answer cells (wrong notebook?)")
    for grade_id, parts in answers.items():
        answers[grade_id] = _bounded(parts)
    return answers


def part_name(grade_id: str, index: int) -> str:
    """The name the sandbox reports part ``index`` (from 0) of an answer cell under."""
    return grade_id if index == 0 else f"{grade_id} (part {index + 1})"


def build_program(answers: Answers) -> list[dict]:
    """The cells to run, in the assignment's order: the student's answer cells and the assignment's
    own (locked) code cells, taken from the release, not from the submission, so edits to them do not
    count. Test cells are left out, and of the cells tagged ``skip-grading`` (data, training, figures,
    widgets) only their plain settings (``BATCH_SIZE = 128``) and function definitions (``plot_history``) run,
    which answer code may use as well."""
    template = json.loads(RELEASE_NOTEBOOK.read_text(encoding="utf-8"))  # the project's own file (nbformat 4)
    cells = []
    for cell in template["cells"]:
        metadata = cell.get("metadata", {})
        meta = metadata.get("nbgrader", {})
        if cell["cell_type"] != "code" or not meta or meta.get("grade"):
            continue
        grade_id = meta["grade_id"]
        if SKIP_TAG in metadata.get("tags", []):
            definitions = given_definitions(_source(cell))
            if definitions:
                cells.append({"id": grade_id, "code": definitions})
            continue
        if meta.get("solution"):
            parts = answers.get(grade_id, [f"raise NotImplementedError('answer cell {grade_id} is missing')"])
            cells += [{"id": part_name(grade_id, index), "code": part} for index, part in enumerate(parts)]
        else:
            cells.append({"id": grade_id, "code": _source(cell)})
    return cells


def answer_ids() -> list[str]:
    """The grade ids of the release's answer cells, in order."""
    template = json.loads(RELEASE_NOTEBOOK.read_text(encoding="utf-8"))
    return [cell["metadata"]["nbgrader"]["grade_id"] for cell in template["cells"]
            if cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("solution")]


def given_definitions(code: str) -> str:
    """The statements of ``code`` that assign a plain value (a number, a string, a tuple of them) to names,
    and its function definitions without decorators (defining a function runs none of its body): what
    answer code may use of a cell that is not run as a whole (``make_loader``, ``plot_history``)."""
    try:
        statements = ast.parse(code).body
    except SyntaxError:   # a cell with IPython syntax (``%time``): none of it is plain
        return ""
    kept = []
    for statement in statements:
        if isinstance(statement, ast.FunctionDef) and not statement.decorator_list:
            kept.append(ast.unparse(statement))
        elif isinstance(statement, ast.Assign) and all(isinstance(target, ast.Name) for target in statement.targets):
            try:
                ast.literal_eval(statement.value)
            except (ValueError, TypeError):
                continue
            kept.append(ast.unparse(statement))
    return "\n".join(kept)


def probe_seed(grader_seed: int, notebook_sha256: str) -> int:
    """The seed of this submission's probe problems: fixed for a given file (the same submission always
    gets the same verdict), unknown before the file is final (a notebook cannot contain answers to
    problems drawn from its own hash)."""
    digest = hashlib.sha256(f"{grader_seed}:{notebook_sha256}".encode()).digest()
    return int.from_bytes(digest[:6], "big")


def sandbox_job(answers: Answers, seed: int) -> dict:
    """Everything the harness needs to know: the cells, the seed and which names to record."""
    return {
        "cells": build_program(answers),
        "available_modules": list(STUDENT_MODULES),
        "seed": seed,
        "models": {key: {"variable": m.variable, "input": list(m.input)} for key, m in MODELS.items()},
        "other_filters": [list(f) for f in OTHER_CNN_FILTERS],
    }
