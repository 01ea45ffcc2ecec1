"""How big a Gradescope container the bundle needs: one grading of the solution through the built
``run_autograder``, in a simulated ``/autograder`` tree, first on this machine as it is (the baseline),
then inside cgroup limits like Gradescope's default container (half a CPU, 768 MB of memory). The
baseline's time comes from a run without memory sampling, its memory from one more, sampled run.

    MNIST_ROOT=../shared/data python scripts/benchmark_gradescope.py [--python PY] [--cpus 0.5] [--memory-mb 768]
                                                                    [--isolation user]

``--python`` is the interpreter that plays the image's ``python3``: pass one with PyTorch's CPU-only
wheels to measure what Gradescope runs (the default is this one); in the ``user`` mode, the default and
the only one Gradescope's containers allow, other users must be able to reach it. Creating cgroups needs
root and cgroup v1 controllers; without them the limited run is skipped and the script says so.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from peak_memory import MB, PeakMemory

from autograder.gradescope.bundle import build_bundle
from helpers.data import mnist_root

ROOT = Path(__file__).resolve().parents[1]

SOLUTION = ROOT / "source" / "cnn" / "cnn.ipynb"
CGROUPS = Path("/sys/fs/cgroup")


def simulated_autograder(scratch: Path, python: Path) -> tuple[Path, dict]:
    """An /autograder tree as Gradescope leaves it after setup.sh (MNIST copied in, not downloaded),
    with the solution as the submission; and the environment whose python3 is ``python``."""
    tree = scratch / "autograder"
    with zipfile.ZipFile(build_bundle(scratch / "bundle")) as archive:
        archive.extractall(tree / "source")
    raw = tree / "source" / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (mnist_root() / "MNIST" / "raw").glob("*.gz"):   # unpacked on first use, as setup.sh leaves them
        shutil.copy(gz, raw)
    (tree / "submission").mkdir()
    shutil.copy(SOLUTION, tree / "submission" / "cnn.ipynb")
    (tree / "results").mkdir()
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    env = dict(os.environ, AUTOGRADER_ROOT=str(tree), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("OMP_NUM_THREADS", None)
    return tree, env


class Container:
    """A cgroup v1 pair (cpu, memory) with Gradescope-like limits; processes join it when they start."""

    def __init__(self, cpus: float, memory_bytes: int) -> None:
        name = f"autograder-benchmark-{os.getpid()}"
        self.cpu, self.memory = CGROUPS / "cpu" / name, CGROUPS / "memory" / name
        self.cpu.mkdir()
        self.memory.mkdir()
        period = int((self.cpu / "cpu.cfs_period_us").read_text())
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(cpus * period)))
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))

    @staticmethod
    def available() -> bool:
        return os.geteuid() == 0 and os.access(CGROUPS / "cpu", os.W_OK) and os.access(CGROUPS / "memory", os.W_OK)

    def enter(self) -> None:
        """Runs in the child before exec: move it into both groups."""
        for group in (self.cpu, self.memory):
            (group / "cgroup.procs").write_text(str(os.getpid()))

    def peak_bytes(self) -> int:
        return int((self.memory / "memory.max_usage_in_bytes").read_text())

    def oom_kills(self) -> int:
        fields = dict(line.split() for line in (self.memory / "memory.oom_control").read_text().splitlines())
        return int(fields.get("oom_kill", 0))

    def remove(self) -> None:
        for group in (self.cpu, self.memory):
            group.rmdir()


def grade_once(tree: Path, env: dict, container: Container | None, isolation: str, sampled: bool = True) -> dict:
    """One grading's figures. Sampling memory costs CPU (each read walks a process's page tables): a
    grading timed on this machine is not sampled (``sampled=False``: ``peak_rss`` is 0); in a container
    the sampler runs outside its CPU limit."""
    results = tree / "results" / "results.json"
    results.unlink(missing_ok=True)
    started = time.perf_counter()
    command = ["bash", str(tree / "source" / "run_autograder"), "--isolation", isolation]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, preexec_fn=container.enter if container else None)
    memory = PeakMemory(process.pid) if sampled else None
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    peak = memory.stop().total if memory else 0
    written = json.loads(results.read_text()) if results.is_file() else {}
    confinement = written.get("extra_data", {}).get("provenance", {}).get("isolation", {})
    figures = {"seconds": seconds, "peak_rss": peak, "score": written.get("score"), "exit": process.returncode,
               "stderr": stderr.strip().splitlines()[-1:], "isolation": confinement.get("mode", "none recorded")}
    if container:
        figures.update(cgroup_peak=container.peak_bytes(), oom_kills=container.oom_kills())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, default=Path(sys.executable), help="the image's python3")
    parser.add_argument("--cpus", type=float, default=0.5)
    parser.add_argument("--memory-mb", type=int, default=768)
    parser.add_argument("--isolation", choices=("auto", "bubblewrap", "user"), default="user",
                        help="the sandbox (default: user, the one Gradescope's containers allow)")
    args = parser.parse_args()
    version = subprocess.run([str(args.python), "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    print(f"python3: {args.python} (torch {version})")
    with tempfile.TemporaryDirectory() as scratch:
        tree, env = simulated_autograder(Path(scratch), args.python.absolute())
        baseline = grade_once(tree, env, None, args.isolation, sampled=False)
        baseline["peak_rss"] = grade_once(tree, env, None, args.isolation)["peak_rss"]   # a run of its own
        print(f"this machine ({os.cpu_count()} cores, no limit): {baseline['seconds']:5.1f} s, "
              f"peak {baseline['peak_rss'] / MB:4.0f} MB resident, score {baseline['score']}, "
              f"sandbox {baseline['isolation']}")
        if not Container.available():
            print("no writable cgroups here (root and cgroup v1 needed): the limited run is skipped")
            return
        container = Container(args.cpus, args.memory_mb * MB)
        try:
            limited = grade_once(tree, env, container, args.isolation)
        finally:
            container.remove()
    print(f"container ({args.cpus:g} CPU, {args.memory_mb} MB): {limited['seconds']:5.1f} s, "
          f"peak {limited['peak_rss'] / MB:4.0f} MB resident (cgroup counter {limited['cgroup_peak'] / MB:.0f} MB), "
          f"score {limited['score']}, out-of-memory kills {limited['oom_kills']}, sandbox {limited['isolation']}")
    print(f"  time: {limited['seconds'] / baseline['seconds']:.1f}x the baseline, "
          f"{limited['seconds'] / 600:.0%} of Gradescope's 10-minute limit")
    print(f"  memory: {limited['peak_rss'] / (args.memory_mb * MB):.0%} of the container's limit "
          f"(baseline peak {baseline['peak_rss'] / MB:.0f} MB: the grader and the student's code overlap there)")
    if limited["score"] != baseline["score"]:
        print(f"  the limited run scored {limited['score']} against {baseline['score']}: {limited['stderr']}")


if __name__ == "__main__":
    main()
