"""Re-measure every figure the README quotes that is cheap to measure, and say which ones moved.

    python scripts/readme_figures.py

Each figure is found in README.md by a pattern, measured afresh here, and printed with both values; the
exit status is 1 when any moved beyond its tolerance (then edit the README: its text says when and how
each was measured). Figures that take minutes to measure (grading and batch times, container memory) are
listed with the benchmark that measures them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


@dataclass(frozen=True)
class Figure:
    name: str
    pattern: str            # its first group is the figure as the README quotes it
    key: str                # the measurement it is compared with
    tolerance: float = 0.0  # relative, for numbers; 0: the text must be the same


def unit_tier() -> dict[str, str]:
    """The unit tier's test count and wall time."""
    run = subprocess.run([sys.executable, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True)
    found = re.search(r"(\d+) passed.* in ([\d.]+)s", run.stdout)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"readme_figures: the unit tier did not pass:\n{run.stdout[-2000:]}")
    return {"unit tests": found.group(1), "unit seconds": f"{float(found.group(2)):.0f}"}


def _listed(names: set[str]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(names))


def gradescope_bundle() -> dict[str, str]:
    """The zip's size, its top-level entries and the folders of its ``autograder`` package."""
    with tempfile.TemporaryDirectory() as out:
        made = subprocess.run([sys.executable, "-m", "autograder", "gradescope", out], cwd=ROOT,
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(f"readme_figures: the bundle could not be built: {made.stderr}")
        path = Path(out) / "autograder.zip"
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        size = path.stat().st_size
    return {"zip KB": f"{size / 1024:.0f}",
            "zip top level": _listed({n.split("/")[0] + ("/" if "/" in n else "") for n in names}),
            "zip grader folders": _listed({n.split("/")[1] + "/" for n in names
                                           if n.startswith("autograder/") and n.count("/") >= 2})}


FIGURES = (
    Figure("unit tier: tests", r"\((\d+) tests in [\d.]+ s, measured", "unit tests"),
    Figure("unit tier: seconds (on a loaded machine it varies by half)", r"\(\d+ tests in ([\d.]+) s, measured",
           "unit seconds", 0.5),
    Figure("Gradescope zip: KB", r"`OUT_DIR/autograder\.zip` \((\d+) KB", "zip KB", 0.1),
    Figure("Gradescope zip: top level", r"Its top level: ((?:`[^`]+`(?:, )?)+)", "zip top level"),
    Figure("Gradescope zip: grader folders", r"its `autograder/` folders: ((?:`[^`]+`(?:, )?)+)", "zip grader folders"),
)
SLOW = ("grading time per submission: scripts/benchmark_grading.py",
        "batch throughput and memory: scripts/benchmark_batch.py",
        "container time and memory: scripts/benchmark_gradescope.py",
        "similarity report time: scripts/benchmark_similarity.py")


def same(quoted: str, measured: str, tolerance: float) -> bool:
    if not tolerance:
        return quoted == measured
    return abs(float(measured) - float(quoted)) <= tolerance * float(quoted)


def main() -> int:
    text = README.read_text()
    measurements = {**unit_tier(), **gradescope_bundle()}
    moved = 0
    for figure in FIGURES:
        found = re.search(figure.pattern, text)
        measured = measurements[figure.key]
        if found is None:
            print(f"MISSING  {figure.name}: not quoted in the README (measured: {measured})")
            moved += 1
            continue
        quoted = found.group(1)
        if same(quoted, measured, figure.tolerance):
            print(f"same     {figure.name}: {measured}")
        else:
            print(f"MOVED    {figure.name}: the README says {quoted}, measured {measured}")
            moved += 1
    for slow in SLOW:
        print(f"not here {slow} (minutes)")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
