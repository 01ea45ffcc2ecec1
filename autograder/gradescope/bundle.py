"""Build ``autograder.zip``, the file an instructor uploads as a Gradescope programming assignment's
autograder. Gradescope unpacks it into ``/autograder/source`` and runs ``setup.sh`` from there."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..platform.files import grader_files
from ..results import atomic_target
from .config import CONFIG_NAME, BundleConfig

HERE = Path(__file__).parent
SCRIPTS = ("setup.sh", "run_autograder")       # at the top of the zip, where Gradescope looks


def bundle_files() -> dict[str, Path]:
    """Name in the zip -> file here: the two scripts and what grading needs."""
    return {**{name: HERE / name for name in SCRIPTS}, **grader_files("gradescope")}


def build_bundle(out_dir: Path, config: BundleConfig | None = None) -> Path:
    """Write ``out_dir/autograder.zip`` with the instructor's options (atomically: a failed build leaves
    any earlier zip intact)."""
    target = out_dir / "autograder.zip"
    with atomic_target(target) as temporary, zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in bundle_files().items():
            archive.write(path, name)  # keeps the mode bits: the scripts stay executable
        options = zipfile.ZipInfo(CONFIG_NAME, date_time=(1980, 1, 1, 0, 0, 0))  # a fixed time: same options, same zip
        options.external_attr = 0o644 << 16
        archive.writestr(options, (config or BundleConfig()).to_json(), zipfile.ZIP_DEFLATED)
    return target
