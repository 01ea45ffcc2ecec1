"""Throughput of batch grading: a course folder of mixed submissions (mostly the solution, some with
one bug, a few untouched releases) graded with ``--jobs 1`` and then ``--jobs 2``, in one run.

Prints submissions per minute for both, how many accuracies a worker reused (a graph it had trained
for an earlier submission: ``autograder.accuracy_memo``), the speed-up of the second and whether both
runs gave the same grades. With ``--baseline REV`` it also grades the same folder with the batch of an
earlier commit (with the last ``--jobs`` value), twice, alternated with two runs of this tree, and
prints the ratio of the mean throughputs and whether the grades match. Memory comes from one more run
with the last ``--jobs`` value, sampled (``peak_memory``): the peak of a grading process (a batch
worker with its sandbox) and of the whole batch. The timed runs are not sampled: reading a process's
proportional memory walks its page tables (some 20 ms for a 1 GB process), and sampling a batch every
50 ms took a quarter of its throughput.

With ``--distinct`` every submission's models get layer names of their own, so that no graph recurs:
the throughput of a class in which no two students export the same graph.

    MNIST_ROOT=../shared/data python scripts/benchmark_batch.py [--count 20] [--jobs 1 2] [--baseline REV] [--distinct]
"""

from __future__ import annotations

import argparse
import csv as csv_module
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from baseline_tree import ROOT, checked_out
from peak_memory import MB, PeakMemory

SOLUTION = ROOT / "source" / "cnn" / "cnn.ipynb"
RELEASE = ROOT / "release" / "cnn" / "cnn.ipynb"

# name: text replacements in the solution's cells, by grade id; each makes one bug.
BUGS = {
    "fc_wrong_hidden_size": {"fc_class": [("nn.Linear(512, 256)", "nn.Linear(512, 200)"),
                                          ("nn.Linear(256, 128)", "nn.Linear(200, 128)")]},
    "fc_missing_relu": {"fc_class": [("x = F.relu(self.fc2(x))", "x = self.fc2(x)")]},
    "cnn_average_pooling": {"cnn_class": [("self.pool = nn.MaxPool2d(2)", "self.pool = nn.AvgPool2d(2)")]},
    "loop_no_zero_grad": {"train_model": [
        ("            opt.zero_grad()                     # step 10: reset the gradients\n", "")]},
}

CLASS_CELLS = ("fc_class", "lenet_class", "cnn_class")
BASELINE_RUNS = 2    # runs of the baseline, alternated with as many of this tree's
# Out of every ten: five solutions, four single-bug variants, one release nobody worked on.
PATTERN = ["solution", "bug", "solution", "bug", "solution", "bug", "solution", "bug", "solution", "release"]


def edited(base: Path, folder: Path, name: str, edits: dict[str, list[tuple[str, str]]]) -> Path:
    """Copy ``base`` to ``folder/name.ipynb`` with the replacements in the cells named by grade id; each
    must apply exactly once, so no submission is silently the unchanged solution."""
    nb = nbformat.read(base, as_version=4)
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    for grade_id, replacements in edits.items():
        for old, new in replacements:
            if cells[grade_id].source.count(old) != 1:
                raise SystemExit(f"{name}: {old!r} is not in {grade_id} exactly once")
            cells[grade_id].source = cells[grade_id].source.replace(old, new)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def own_layer_names(notebook: Path, index: int) -> None:
    """Give the models of ``notebook`` layer names no other submission has (``self.fc1`` becomes
    ``self.s7_fc1``): their graphs differ, so no worker trains any of them twice."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in CLASS_CELLS:
            for layer in ("self.fc", "self.conv"):
                cell.source = cell.source.replace(layer, f"self.s{index}_{layer[len('self.'):]}")
    nbformat.write(nb, notebook)


def make_course(folder: Path, count: int, distinct: bool = False) -> dict[str, int]:
    """``submitted/<student>/cnn/cnn.ipynb`` for ``count`` students; returns how many of each kind.
    With ``distinct``, every submission's models have layer names of their own (``own_layer_names``)."""
    bugs = itertools.cycle(BUGS.items())
    made = folder / "variants"
    made.mkdir()
    kinds: dict[str, int] = {}
    for index in range(count):
        kind = PATTERN[index % len(PATTERN)]
        if kind == "bug":
            name, edits = next(bugs)
            notebook = edited(SOLUTION, made, f"{index}-{name}", edits)
        elif kind == "solution" and distinct:
            notebook = edited(SOLUTION, made, f"{index}-solution", {})
        else:
            notebook = SOLUTION if kind == "solution" else RELEASE
        if distinct and kind != "release":
            own_layer_names(notebook, index)
        target = folder / "submitted" / f"student{index:02d}" / "cnn" / "cnn.ipynb"
        target.parent.mkdir(parents=True)
        shutil.copy(notebook, target)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def scores(csv: Path) -> list[list[str]]:
    """The class CSV without its last column, each grading's time: what two runs must agree on."""
    with open(csv, newline="") as table:
        return [row[:-1] for row in csv_module.reader(table)]


def _started(course: Path, jobs: int, csv: Path, tree: Path) -> subprocess.Popen:
    """A batch run of the grader in ``tree`` over ``course`` (``-m`` from ``tree`` imports its package)."""
    command = [sys.executable, "-m", "autograder", "batch", str(course), "--jobs", str(jobs), "--force",
               "--csv", str(csv)]
    return subprocess.Popen(command, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finished(process: subprocess.Popen, jobs: int) -> None:
    if process.wait() != 0:
        raise SystemExit(f"batch --jobs {jobs} failed with exit status {process.returncode}")


def reused_trainings(course: Path) -> tuple[int, int]:
    """(trainings whose accuracy a worker had measured for the same graph before, trainings in all) in
    the results the last run wrote (``autograder.accuracy_memo``)."""
    reused = trained = 0
    for results in course.glob("autograded/*/cnn/results.json"):
        extra = json.loads(results.read_text()).get("extra_data", {})
        reused += len(extra.get("trainings_reused", []))
        trained += len(extra.get("accuracies", {}))
    return reused, trained


def timed_batch(course: Path, jobs: int, csv: Path, tree: Path = ROOT) -> float:
    """The wall time of one batch run, unsampled."""
    started = time.perf_counter()
    _finished(_started(course, jobs, csv, tree), jobs)
    return time.perf_counter() - started


def sampled_batch(course: Path, jobs: int, csv: Path) -> PeakMemory:
    """The memory of one batch run of this tree, sampled all along."""
    process = _started(course, jobs, csv, ROOT)
    memory = PeakMemory(process.pid)
    _finished(process, jobs)
    return memory.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="submissions in the course folder")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values to compare")
    parser.add_argument("--baseline", metavar="REV", help="also grade with the batch of this git revision")
    parser.add_argument("--distinct", action="store_true",
                        help="layer names of its own in every submission: no graph recurs (the worst case)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch)
        kinds = make_course(course, args.count, args.distinct)
        print(f"{args.count} submissions ({', '.join(f'{n} {kind}' for kind, n in kinds.items())}"
              f"{', every graph distinct' if args.distinct else ''}), {os.cpu_count()} cores")
        rates, grades = {}, {}
        for jobs in args.jobs:
            seconds = timed_batch(course, jobs, course / f"grades-{jobs}.csv")
            rates[jobs] = args.count / seconds * 60
            grades[jobs] = scores(course / f"grades-{jobs}.csv")
            reused, trained = reused_trainings(course)
            print(f"--jobs {jobs}: {seconds:6.1f} s, {rates[jobs]:5.1f} submissions/minute "
                  f"({reused} of {trained} accuracies from a graph the worker had trained before)")
        last = args.jobs[-1]
        if args.baseline:
            # alternated with this tree's (baseline, this tree, baseline): the order of the runs moves a
            # batch's rate by a few percent on this machine, as much as the changes it compares
            ours, theirs = [rates[last]], []
            with checked_out(args.baseline) as tree:
                for run in range(BASELINE_RUNS):
                    seconds = timed_batch(course, last, course / "grades-baseline.csv", tree)
                    theirs.append(args.count / seconds * 60)
                    if run < BASELINE_RUNS - 1:
                        ours.append(args.count / timed_batch(course, last, course / f"grades-{last}.csv") * 60)
            same = scores(course / "grades-baseline.csv") == grades[last] == scores(course / f"grades-{last}.csv")
            mine, rate = statistics.mean(ours), statistics.mean(theirs)
            print(f"baseline {args.baseline}, --jobs {last}: {rate:5.1f} submissions/minute (runs: "
                  f"{', '.join(f'{r:.1f}' for r in theirs)}); this tree {mine:5.1f} (runs: "
                  f"{', '.join(f'{r:.1f}' for r in ours)}), {mine / rate:.2f}x its throughput, "
                  f"{'the same' if same else 'DIFFERENT'} grades")
        memory = sampled_batch(course, last, course / "grades-sampled.csv")
        print(f"memory, --jobs {last} (a run of its own, sampled every {memory.interval:g} s): a grading process with "
              f"its sandbox at most {max(memory.per_child.values(), default=0) / MB:.0f} MB, the whole batch at once "
              f"{memory.total / MB:.0f} MB")
    first = args.jobs[0]
    for jobs in args.jobs[1:]:
        print(f"--jobs {jobs} vs --jobs {first}: {rates[jobs] / rates[first]:.2f}x the throughput, "
              f"{'the same' if grades[jobs] == grades[first] else 'DIFFERENT'} grades")
    print("target: at least 24 submissions a minute with --jobs 2")


if __name__ == "__main__":
    main()
