"""Every benchmark script runs and prints its figures, on the smallest input it takes (the figures
themselves are for people to read; nothing here times anything)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.extended]

RUNS = {
    "benchmark_grading.py": (["--repeat", "1", "--skip-nbgrader"], "autograder grade:   median"),
    "benchmark_batch.py": (["--count", "2", "--jobs", "1"], "the whole batch at once"),
    "benchmark_gradescope.py": (["--isolation", "bubblewrap", "--memory-mb", "2048"], "this machine ("),
}


@pytest.mark.parametrize("script", list(RUNS))
def test_the_benchmark_runs_and_prints_its_figures(script):
    arguments, figure = RUNS[script]
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *arguments], cwd=ROOT,
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert figure in result.stdout, result.stdout[-2000:]
