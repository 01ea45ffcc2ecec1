"""Speed of the autograder against grading the nbgrader way, on the same submission, in one run.

Times ``python -m autograder grade`` and ``nbgrader autograde`` (which executes every cell, training
included) on the reference solution, and prints both wall times and their ratio, and where the
autograder's time went, stage by stage (``autograder.stages``: medians; the stages overlap). With ``--baseline
REV`` it also times the autograder of an earlier commit (checked out in a scratch worktree, graded by the
same interpreter) in the same run, alternating with this tree's runs, and prints the ratio.

    MNIST_ROOT=../shared/data python scripts/benchmark_grading.py [--repeat 3] [--skip-nbgrader] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from baseline_tree import ROOT, checked_out

SUBMISSION = ROOT / "source" / "cnn" / "cnn.ipynb"
ENV = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


STAGES: list[dict[str, float]] = []   # this tree's breakdown of each grading, as its results file gives it


def autograder_seconds(repeat: int, isolation: str = "auto", tree: Path = ROOT) -> list[float]:
    """Grading times of the autograder in ``tree`` (``-m`` puts the working folder first on the path, so
    that tree's package is the one graded with)."""
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "results.json"
        command = [sys.executable, "-m", "autograder", "grade", str(tree / SUBMISSION.relative_to(ROOT)),
                   "--isolation", isolation, "--json", str(results)]
        for _ in range(repeat):
            times.append(timed(command, tree))
            stages = json.loads(results.read_text()).get("extra_data", {}).get("stages")
            if tree == ROOT and isolation == "auto" and stages:
                STAGES.append(stages)
    return times


def print_stages() -> None:
    names = list(dict.fromkeys(name for stages in STAGES for name in stages))
    print("stages (median s; they overlap):  " + ",  ".join(
        f"{name} {statistics.median(stages.get(name, 0.0) for stages in STAGES):.2f}" for name in names))


def baseline_and_ours(revision: str, repeat: int) -> tuple[list[float], list[float]]:
    """Runs of the autograder at ``revision`` and of this tree, alternating, so that both see the same
    machine."""
    with checked_out(revision) as tree:
        runs = [(autograder_seconds(1, tree=tree)[0], autograder_seconds(1)[0]) for _ in range(repeat)]
    return [base for base, _ in runs], [ours for _, ours in runs]


def nbgrader_seconds() -> float:
    """``nbgrader autograde`` of the same notebook in a scratch course folder (release files beside it)."""
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "helpers", course / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "source", course / "source", symlinks=True)
        nbgrader = [sys.executable, "-m", "nbgrader"]
        subprocess.run([*nbgrader, "generate_assignment", "cnn"], cwd=course, env=ENV, check=True, capture_output=True)
        subprocess.run([*nbgrader, "db", "student", "add", "bench"], cwd=course, env=ENV, check=True,
                       capture_output=True)
        submitted = course / "submitted" / "bench" / "cnn"
        shutil.copytree(course / "release" / "cnn", submitted)
        shutil.copy(SUBMISSION, submitted / "cnn.ipynb")
        return timed([*nbgrader, "autograde", "cnn", "--student", "bench"], course)


def filter_install_seconds(repeat: int) -> list[float]:
    """What installing the harness's system-call filter costs, measured in a fresh process each time
    (the grader offers no way to grade without it)."""
    code = ("import sys, time; sys.path.insert(0, sys.argv[1]); started = time.perf_counter(); "
            "from harness.syscalls import install; install(); print(time.perf_counter() - started)")
    folder = str(ROOT / "autograder" / "sandbox")
    return [float(subprocess.run([sys.executable, "-I", "-c", code, folder], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeat)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="autograder runs (the median is reported)")
    parser.add_argument("--skip-nbgrader", action="store_true", help="time the autograder only")
    parser.add_argument("--baseline", metavar="REV", help="also time the autograder of this git revision")
    args = parser.parse_args()
    installs = filter_install_seconds(5)
    print(f"system-call filter: installed in {1000 * statistics.median(installs):.0f} ms "
          f"(median of {len(installs)}; limit 200 ms)")
    bare = autograder_seconds(args.repeat, "none")
    ours = autograder_seconds(args.repeat)
    print(f"autograder grade:   median {statistics.median(ours):6.1f} s  (runs: {', '.join(f'{s:.1f}' for s in ours)})")
    print(f"without isolation:  median {statistics.median(bare):6.1f} s  "
          f"(runs: {', '.join(f'{s:.1f}' for s in bare)}); "
          f"isolation overhead {statistics.median(ours) - statistics.median(bare):+.1f} s (target: at most 1 s)")
    print_stages()
    if args.baseline:
        base, again = baseline_and_ours(args.baseline, args.repeat)
        base_median, our_median = statistics.median(base), statistics.median(again)
        print(f"baseline {args.baseline}: median {base_median:6.1f} s, this tree {our_median:.1f} s in the same "
              f"runs: ratio {our_median / base_median:.2f} (below 1: faster)")
    if args.skip_nbgrader:
        return
    theirs = nbgrader_seconds()
    print(f"nbgrader autograde: {theirs:6.1f} s")
    print(f"speed-up: {theirs / statistics.median(ours):.1f}x (target: at least 4x, and at most 30 s per submission)")


if __name__ == "__main__":
    main()
