"""How much a lost check's hint gives away, as the instructor chooses: the full hint (which may state the
expected line), a pointer to the notebook's section where the check's code is written, or nothing."""

from __future__ import annotations

import re

from .assignment import MODELS

HINT_LEVELS = ("full", "step", "none")
# The notebook's section headings (``###`` in the release) where each group's or model's code is written.
GROUP_SECTIONS = {"setup": "Steps 3 and 4: loss and optimizer", "training loop": "Steps 5 to 10: the training loop"}
MODEL_SECTIONS = {"FC": "Step 2: a multi-layer perceptron", "CNN_LeNet": "A LeNet-5 variant",
                  "CNN": "A three-block CNN"}
_MODEL = re.compile(r"\b(" + "|".join(spec.name for spec in MODELS.values()) + r")\b")


def section_of(check_name: str, group: str) -> str:
    """The heading of the notebook section a check is about: its model's, else its group's."""
    model = _MODEL.search(check_name)
    if model:
        return MODEL_SECTIONS[model.group(1)]
    return GROUP_SECTIONS.get(group, "")


def hint_at(level: str, hint: str, check_name: str, group: str) -> str:
    """The hint to show for a lost check at ``level`` (one of ``HINT_LEVELS``); empty for none."""
    if level == "none" or not hint:
        return ""
    if level == "step":
        section = section_of(check_name, group)
        return f"Look again at the notebook's section \u201c{section}\u201d." if section else ""
    return hint
