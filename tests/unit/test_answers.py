"""The parameter-count answers are judged from their source: literal arithmetic only."""

from __future__ import annotations

import time

import pytest

from helpers.answers import NotArithmetic, literal_answer


@pytest.mark.parametrize("source, value", [
    ("fc_num_params = (784 * 512 + 512) + (512 * 10 + 10)", 784 * 512 + 512 + 5130),
    ("# weights + biases\nhidden = 784 * 512 + 512\nfc_num_params = hidden + 128", 784 * 512 + 640),
    ("fc_num_params = 10\nfc_num_params += 2 ** 3\nprint(fc_num_params)", 18),
    ("fc_num_params: int = -(-5) + 10 // 3", 8),
    ("fc_num_params = 567434", 567434),
])
def test_arithmetic_on_numbers_counts(source, value):
    assert literal_answer(source, "fc_num_params") == value


@pytest.mark.parametrize("source, reason", [
    ("fc_num_params = count_parameters(model_fc)", "calls count_parameters()"),
    ("fc_num_params = sum(p.numel() for p in model_fc.parameters())", "calls sum()"),
    ("n = len(model_fc.fc1.weight)\nfc_num_params = n * 784", "uses n"),
    ("fc_num_params = model_fc.fc1.weight.numel() + 10", "calls model_fc.fc1.weight.numel()"),
    ("fc_num_params = summary(model_fc)", "calls summary()"),
    ("x = 1", "not assigned"),
    ("fc_num_params = 9 ** 9 ** 9", "too large"),
    ("fc_num_params = [1, 2][0]", "syntax"),
    ("fc_num_params = (", "not valid Python"),
])
def test_anything_else_earns_nothing_and_says_why(source, reason):
    with pytest.raises(NotArithmetic, match=reason.replace("(", r"\(").replace(")", r"\)")):
        literal_answer(source, "fc_num_params")


@pytest.mark.parametrize("source", [
    "x = 999999 ** 64\n" + "x = x * x\n" * 30 + "fc_num_params = x - x + 5",
    "fc_num_params = " + "1 + " * 5000 + "1",
    "fc_num_params = " + "9" * 5000,
    "fc_num_params = 1\n" * 3000,
])
def test_answers_that_would_take_the_grader_long_are_refused_at_once(source):
    started = time.monotonic()
    with pytest.raises(NotArithmetic):
        literal_answer(source, "fc_num_params")
    assert time.monotonic() - started < 1


def test_an_oversized_answer_cell_fails_alone(tmp_path):
    """An answer cell beyond the grader's bound is replaced by a line that fails with the reason; the other
    answer cells are read as written."""
    import json

    from autograder.paths import SOURCE_NOTEBOOK
    from autograder.submission import MAX_ANSWER_CHARS, read_answers

    notebook = json.loads(SOURCE_NOTEBOOK.read_text())
    honest = read_answers(SOURCE_NOTEBOOK)
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "fc_params":
            cell["source"] = "fc_num_params = 1\n" + "#" * MAX_ANSWER_CHARS
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps(notebook))
    answers = read_answers(path)
    assert answers["fc_params"][0].startswith("raise RuntimeError('this answer cell holds 1,048,")
    assert {k: v for k, v in answers.items() if k != "fc_params"} == \
        {k: v for k, v in honest.items() if k != "fc_params"}


def test_cells_that_share_an_answer_id_are_kept_as_parts_in_order(tmp_path):
    """A cell split in two (JupyterLab copies nbgrader's metadata into both parts) or copied: every part
    runs, in the notebook's order, as "Run All" runs them, and the verdict can say so."""
    import copy
    import json

    from autograder.paths import SOURCE_NOTEBOOK
    from autograder.submission import build_program, read_answers

    notebook = json.loads(SOURCE_NOTEBOOK.read_text())
    index = next(i for i, cell in enumerate(notebook["cells"])
                 if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "train_model")
    helper = copy.deepcopy(notebook["cells"][index])
    helper["source"] = ["def count_correct(model, x, y):\n", "    return int((model(x).argmax(1) == y).sum())"]
    notebook["cells"].insert(index, helper)
    path = tmp_path / "split.ipynb"
    path.write_text(json.dumps(notebook))
    answers, honest = read_answers(path), read_answers(SOURCE_NOTEBOOK)
    assert answers["train_model"] == ["".join(helper["source"]), *honest["train_model"]]
    assert answers.text("train_model") == "".join(helper["source"]) + "\n" + honest.text("train_model")
    assert answers.repeated(["train_model", "fc_class"]) == {"train_model": 2} and honest.repeated(honest) == {}
    program = [cell["id"] for cell in build_program(answers)]
    assert program[program.index("train_model"):][:2] == ["train_model", "train_model (part 2)"]


@pytest.mark.parametrize("parts, value", [
    (["model_fc.parameters?", "fc_num_params = 3 * 4"], 12),     # IPython syntax in a part of its own
    (["width = 2", "fc_num_params = width * 3"], 6),              # names carry from part to part
    (["fc_num_params = (784 * ", "fc_num_params = 5"], 5),        # a draft that does not parse
    (["fc_num_params = 5", "fc_num_params = 7"], 7),              # the later copy wins, as when run in order
])
def test_an_answer_in_parts_is_read_as_run_all_runs_them(parts, value):
    assert literal_answer(parts, "fc_num_params") == value


def test_a_notebook_of_countless_tiny_values_is_refused_before_parsing(tmp_path):
    """Millions of tiny JSON values would cost the parser many times the file's size in memory: refused
    with what to do, before any is parsed."""
    from autograder.submission import MAX_JSON_COMMAS, SubmissionError, read_answers

    path = tmp_path / "values.ipynb"
    path.write_text('{"cells": [], "metadata": {"x": [' + ",".join(["1"] * (MAX_JSON_COMMAS + 2)) + "]}}")
    started = time.process_time()
    with pytest.raises(SubmissionError, match="clear its outputs"):
        read_answers(path)
    assert time.process_time() - started < 5


def test_an_answer_cell_copied_countless_times_fails_alone(tmp_path):
    """Each part is a step of the sandbox's run: beyond a few dozen copies the cell fails with the reason,
    costing only the checks that need it."""
    import copy
    import json

    from autograder.paths import SOURCE_NOTEBOOK
    from autograder.submission import MAX_ANSWER_PARTS, read_answers

    notebook = json.loads(SOURCE_NOTEBOOK.read_text())
    index = next(i for i, cell in enumerate(notebook["cells"])
                 if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "fc_params")
    notebook["cells"][index:index] = [copy.deepcopy(notebook["cells"][index]) for _ in range(MAX_ANSWER_PARTS)]
    path = tmp_path / "copies.ipynb"
    path.write_text(json.dumps(notebook))
    answers, honest = read_answers(path), read_answers(SOURCE_NOTEBOOK)
    assert answers["fc_params"] == [f"raise RuntimeError('{MAX_ANSWER_PARTS + 1:,} cells carry the id of this answer "
                                    f"cell; the grader runs at most {MAX_ANSWER_PARTS} of them')"]
    compile(answers["fc_params"][0], "<part>", "exec")   # the line the sandbox runs fails with the reason
    assert {k: v for k, v in answers.items() if k != "fc_params"} == {k: v for k, v in honest.items() if k != "fc_params"}
