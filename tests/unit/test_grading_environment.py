"""One grading environment: what student code may import when graded, and what the grader itself
imports, is exactly what ``requirements-grading.txt`` installs, which is what every bundle installs."""

from __future__ import annotations

import ast
import importlib.metadata
import sys

from autograder.assignment import STUDENT_MODULES
from autograder.paths import GRADING_REQUIREMENTS, PACKAGE, ROOT


def _pinned() -> set[str]:
    names = set()
    for line in GRADING_REQUIREMENTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(line.split("==")[0].strip().lower().replace("_", "-"))
    return names


def _distribution(module: str) -> str | None:
    found = importlib.metadata.packages_distributions().get(module)
    return found[0].lower().replace("_", "-") if found else None


def test_every_module_students_may_import_is_installed_by_the_grading_requirements():
    missing = [module for module in STUDENT_MODULES if module != "helpers" and _distribution(module) not in _pinned()]
    assert not missing, f"not pinned in {GRADING_REQUIREMENTS.name}: {missing}"


def test_every_module_the_grader_imports_is_installed_by_the_grading_requirements():
    """Bundles install requirements-grading.txt alone: a grader module importing anything else would fail
    on Gradescope or PrairieLearn and nowhere else."""
    local = {"autograder", "helpers", "harness"}
    course_side = {"batch", "similarity"}  # commands run from requirements.txt, on the course's machine
    needed = set()
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "helpers").rglob("*.py")]:
        if course_side & set(path.relative_to(PACKAGE.parent).parts):
            continue
        for node in ast.parse(path.read_text()).body:  # imports inside functions load only when called
            if isinstance(node, ast.Import):
                needed |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                needed.add(node.module.split(".")[0])
    third_party = {name for name in needed - local if name not in sys.stdlib_module_names}
    missing = sorted(name for name in third_party if _distribution(name) not in _pinned())
    assert not missing, f"the grader imports {missing}, which {GRADING_REQUIREMENTS.name} does not install"
