"""What of a notebook the sandbox runs: every statement of each cell, even after one that raised, and of the
cells the grader skips, their plain settings."""

from __future__ import annotations

import pytest

from autograder.sandbox.harness.notebook import fresh_namespace, run_cell
from autograder.sandbox.harness.phases import describe
from autograder.submission import build_program, given_definitions


def test_a_statement_that_raises_costs_itself_and_the_cell_still_reports_it():
    namespace = fresh_namespace()
    code = "import torchinfo\n\nclass FC:\n    pass\n\nmodel = undefined_name\nwidth = 512\n"
    with pytest.raises(ModuleNotFoundError, match="torchinfo"):
        run_cell(code, "fc_class", namespace)
    assert namespace["FC"].__name__ == "FC" and namespace["width"] == 512 and "model" not in namespace


def test_an_exit_ends_the_cell_at_once():
    namespace = fresh_namespace()
    with pytest.raises(SystemExit):
        run_cell("import sys\nsys.exit()\nafter = 1\n", "loss_opt", namespace)
    assert "after" not in namespace


def test_a_cell_that_does_not_parse_runs_nothing():
    namespace = fresh_namespace()
    with pytest.raises(SyntaxError):
        run_cell("before = 1\ndef broken(:\n", "train_model", namespace)
    assert "before" not in namespace


def test_magics_still_run_statement_by_statement():
    namespace = fresh_namespace()
    run_cell("%matplotlib inline\n!pip install nothing\nvalue = 3\n", "setup", namespace)
    assert namespace["value"] == 3


def test_only_plain_settings_and_functions_of_a_skipped_cell_run():
    code = ("BATCH_SIZE = 128\nNUM_WORKERS = 2   # comment\nto_image = transforms.ToTensor()\n"
            "SIZES = (4, 8)\nA = B = 'x'\nself_ref = BATCH_SIZE * 2\nx: int = 3\ndata[0] = 1\n"
            "def helper(size=BATCH_SIZE):\n    return train_everything(size)\n"
            "@interact(n=(0, 9))\ndef show(n):\n    pass\nclass Data:\n    loaded = load()\n")
    assert given_definitions(code) == ("BATCH_SIZE = 128\nNUM_WORKERS = 2\nSIZES = (4, 8)\nA = B = 'x'\n"
                                       "def helper(size=BATCH_SIZE):\n    return train_everything(size)")


def test_the_program_gives_answer_code_the_settings_and_helpers_of_the_cells_it_skips():
    given = {cell["id"]: cell["code"] for cell in build_program({})}
    assert given["data"].startswith("BATCH_SIZE = 128\nNUM_WORKERS = 2\ndef make_loader(train, transform):")
    assert given["train_fc"] == "EPOCHS = 5" and given["plot_history"].startswith("def plot_history(history, title):")


@pytest.mark.parametrize("message", ["Torch not compiled with CUDA enabled", "Found no NVIDIA driver on your system"])
def test_an_error_about_a_gpu_says_that_grading_has_none(message):
    error = RuntimeError(message)
    assert "grading runs without a GPU" in describe(RuntimeError, error, 30, [])


def test_a_timed_statement_inside_a_function_sees_its_local_names():
    namespace = fresh_namespace()
    run_cell("steps = []\ndef train(opt):\n    %time opt.append('stepped')\n    n = %time len(opt)\n    return n\n"
             "count = train(steps)\n", "train_model", namespace)
    assert namespace["steps"] == ["stepped"] and namespace["count"] == 1


def test_a_timed_statement_still_runs_once():
    namespace = fresh_namespace()
    code = ("runs = []\n%time model = runs.append('time') or 'trained'\n%timeit -n 3 -r 1 runs.append('timeit')\n"
            "accuracy = %time 0.9\n")
    run_cell(code, "train_fc", namespace)
    assert namespace["model"] == "trained" and namespace["accuracy"] == 0.9
    assert namespace["runs"] == ["time", "timeit"]
    run_cell("%%time\nlater = 'cell magic'\n", "train_cnn", namespace)
    assert namespace["later"] == "cell magic"
