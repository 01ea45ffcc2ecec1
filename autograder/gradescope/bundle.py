"""Build ``autograder.zip``, the file an instructor uploads as a Gradescope programming assignment's
autograder. Gradescope unpacks it into ``/autograder/source`` and runs ``setup.sh`` from there."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..results import atomic_target
from ..submission import ASSIGNMENT_NOTEBOOK

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCRIPTS = ("setup.sh", "run_autograder")       # at the top of the zip, where Gradescope looks
PACKAGES = ("autograder", "helpers")
SKIPPED = ("__pycache__", ".pytest_cache", ".ipynb_checkpoints")


def bundle_files() -> dict[str, Path]:
    """Name in the zip -> file here: the scripts, the grading requirements, both packages, and the
    release notebook (whose locked cells the grader runs instead of the submission's copies)."""
    files = {name: HERE / name for name in SCRIPTS}
    files["requirements-grading.txt"] = ROOT / "requirements-grading.txt"
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.is_file() and not set(path.relative_to(ROOT).parts) & set(SKIPPED) and path.suffix != ".pyc":
                files[path.relative_to(ROOT).as_posix()] = path
    files[ASSIGNMENT_NOTEBOOK.relative_to(ROOT).as_posix()] = ASSIGNMENT_NOTEBOOK
    return files


def build_bundle(out_dir: Path) -> Path:
    """Write ``out_dir/autograder.zip`` (atomically: a failed build leaves any earlier zip intact)."""
    target = out_dir / "autograder.zip"
    with atomic_target(target) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in bundle_files().items():
            archive.write(path, name)  # keeps the mode bits: the two scripts stay executable
    return target
