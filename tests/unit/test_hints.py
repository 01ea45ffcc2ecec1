"""The hint levels: the full hint, a pointer to a section the released notebook really has, or nothing."""

from __future__ import annotations

import json

import pytest

from autograder.assignment import MODELS
from autograder.hints import GROUP_SECTIONS, HINT_LEVELS, MODEL_SECTIONS, hint_at, section_of
from autograder.paths import RELEASE_NOTEBOOK

HINT = "Step 4: torch.optim.SGD(model_fc.parameters(), lr=0.1), nothing else."


def release_headings() -> set[str]:
    cells = json.loads(RELEASE_NOTEBOOK.read_text())["cells"]
    return {line.removeprefix("### ").strip() for cell in cells if cell["cell_type"] == "markdown"
            for line in "".join(cell["source"]).splitlines() if line.startswith("### ")}


def test_every_pointer_names_a_section_of_the_released_notebook():
    assert set(MODEL_SECTIONS) == {spec.name for spec in MODELS.values()}
    assert {*MODEL_SECTIONS.values(), *GROUP_SECTIONS.values()} <= release_headings()


@pytest.mark.parametrize("name, group, section", [
    ("your answer: parameters of CNN_LeNet", "parameters", "A LeNet-5 variant"),
    ("CNN(filters=...) sizes its layers from filters", "parameters", "A three-block CNN"),
    ("FC: layer output shapes", "architecture", "Step 2: a multi-layer perceptron"),
    ("CNN: test accuracy after the grader's training", "accuracy", "A three-block CNN"),
    ("train_model: resets the gradients every batch", "training loop", "Steps 5 to 10: the training loop"),
    ("criterion is the cross-entropy loss", "setup", "Steps 3 and 4: loss and optimizer"),
])
def test_a_check_points_to_its_models_section_or_else_its_groups(name, group, section):
    assert section_of(name, group) == section


def test_each_level_gives_away_what_it_says():
    name, group = "opt is SGD with learning rate 0.1 over model_fc's parameters", "setup"
    assert HINT_LEVELS == ("full", "step", "none")
    assert hint_at("full", HINT, name, group) == HINT
    step = hint_at("step", HINT, name, group)
    assert step == "Look again at the notebook's section \u201cSteps 3 and 4: loss and optimizer\u201d."
    assert "lr=0.1" not in step
    assert hint_at("none", HINT, name, group) == ""
    assert hint_at("step", "", name, group) == ""   # a check without a hint gets no pointer either
