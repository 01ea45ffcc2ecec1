"""The two grading images built and run in a real container engine, as their platforms run them.

    python scripts/grading_images.py build      # the base, the PrairieLearn image, the Gradescope image
    python scripts/grading_images.py measure    # and the solution's time and peak memory in each

* The base is a pristine Debian 12 root made by ``mmdebstrap`` from Debian's own packages and imported
  with ``podman import`` (no image hub is needed). It has no Python: ``install.sh`` adds it, as it would
  to a bare Ubuntu base.
* PrairieLearn's image is the question's own ``Dockerfile`` (``BASE`` names the base), built from the
  folder ``autograder prairielearn`` writes, with MNIST's ``.gz`` files in its ``mnist/``.
* Gradescope's image is what Gradescope makes of the bundle: ``autograder.zip`` unpacked into
  ``/autograder/source``, ``run_autograder`` copied to ``/autograder``, ``setup.sh`` run there (after a
  layer with the packages alone, except in a build from nothing: see ``PACKAGES_FIRST``).
* Builds take PyTorch from the indexes this machine's pip is configured with (``TORCH_INDEX`` empty), read
  from its local folders mounted read-only, with its certificate bundle as ``PIP_CERT``.
* Grading runs each image as its platform does: PrairieLearn's entry point with ``/grade`` mounted, no
  network, 2 GB without swap, 0.9 CPU and 1024 processes; Gradescope's ``run_autograder`` with
  ``/autograder/submission``, ``/autograder/results`` and ``submission_metadata.json``, 768 MB and half a
  CPU. The engine's default seccomp profile and capabilities are kept.

Needs root, podman with the ``runc`` runtime (``crun`` refuses hosts that mix cgroup versions) and
mmdebstrap: ``apt-get install podman runc mmdebstrap``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")
BASE = "localhost/grading-base:bookworm"
PRAIRIELEARN = "localhost/mnist-cnn-grader:prairielearn"
GRADESCOPE = "localhost/mnist-cnn-grader:gradescope"
QUESTION = Path("/var/tmp/grading-images/question")   # kept between builds (see question_folder)
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# The engine's defaults exceed this machine's hard limits, which the runtime then refuses to set.
ULIMITS = ("--ulimit", "nofile=4096:4096", "--ulimit", "nproc=8192:8192")
# Runs a command unchanged and then writes what it cost: the largest peak resident size of any process
# it waited for (the grader, the sandbox) and the container's own counter, which includes the page cache.
MEASURE = """
import json, resource, subprocess, sys
status = subprocess.run(sys.argv[2:]).returncode
counter = None
for path in ("/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"):
    try:
        counter = int(open(path).read())
        break
    except (OSError, ValueError):
        pass
largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
json.dump({"largest_process": largest, "cgroup_counter": counter}, open(sys.argv[1], "w"))
sys.exit(status)
"""


@dataclass(frozen=True)
class Limits:
    """A platform's container: memory in MB (no swap beyond it), CPUs, processes."""

    memory_mb: int
    cpus: float
    pids: int

    def options(self) -> list[str]:
        return [f"--memory={self.memory_mb}m", f"--memory-swap={self.memory_mb}m", f"--cpus={self.cpus}",
                f"--pids-limit={self.pids}"]


PRAIRIELEARN_LIMITS = Limits(2048, 0.9, 1024)   # PrairieLearn's hosted graders, by default
GRADESCOPE_LIMITS = Limits(768, 0.5, 1024)      # Gradescope's default container
GRADESCOPE_LARGER = Limits(1536, 1.0, 1024)     # the next size Gradescope offers
CONTAINERS = (("PrairieLearn", PRAIRIELEARN_LIMITS), ("Gradescope", GRADESCOPE_LIMITS),
              ("Gradescope", GRADESCOPE_LARGER))


@dataclass(frozen=True)
class Graded:
    """One grading in a container: the platform's results file, the wall time, the container's peak memory."""

    results: dict
    seconds: float
    memory: dict[str, int | None]       # MEASURE's figures, in bytes, when measured
    log: str


class ImageError(RuntimeError):
    """A build or a run that failed; the message carries the engine's last words."""


def podman(*arguments: str, timeout: float = 3600, input_bytes: bytes | None = None) -> str:
    run = subprocess.run(["podman", "--runtime", "runc", *arguments], input=input_bytes, capture_output=True,
                         timeout=timeout)
    out = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")
    if run.returncode:
        raise ImageError(f"podman {arguments[0]} failed ({run.returncode}):\n{out[-4000:]}")
    return out


def missing_tools() -> list[str]:
    """What this module needs and the machine lacks."""
    missing = [tool for tool in ("podman", "runc", "mmdebstrap") if shutil.which(tool) is None]
    return missing + (["root"] if os.geteuid() else [])


def build_base(tag: str = BASE) -> None:
    """A pristine Debian 12 (``minbase``: no Python, no certificates) as a local image."""
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="grading-base.") as scratch:
        root = Path(scratch) / "root"
        subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "bookworm", str(root),
                        "http://deb.debian.org/debian"], check=True, timeout=1800)
        archive = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True).stdout
        podman("import", "-", tag, input_bytes=archive)


def _pip_settings() -> tuple[list[str], list[str]]:
    """Build arguments and volumes that give a build this machine's package indexes: the settings pip
    reports (files and environment), the local folders they name mounted read-only at the same paths,
    and the certificate bundle."""
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    arguments, folders = [], set()
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name not in ("index-url", "extra-index-url", "find-links"):
            continue
        value = value.strip().strip("'\"")
        arguments += ["--build-arg", f"PIP_{name.upper().replace('-', '_')}={value}"]
        for path in re.findall(r"(?:file://)?(/[^ ,]+)", value):
            folder = Path(re.sub(r"/simple/?$", "", path))
            if folder.is_dir():
                folders.add(folder)
    volumes = [f"--volume={folder}:{folder}:ro" for folder in sorted(folders)]
    if HOST_CA.is_file():
        arguments += ["--build-arg", "PIP_CERT=/run/host-ca.crt"]
        volumes.append(f"--volume={HOST_CA}:/run/host-ca.crt:ro")
    return arguments, volumes


def _build(context: Path, tag: str, base: str, no_cache: bool, file: str | None = None) -> None:
    arguments, volumes = _pip_settings()
    podman("build", "--network=host", *(["--no-cache"] if no_cache else []), *ULIMITS, *volumes, *arguments,
           "--build-arg", f"BASE={base}",
           "--build-arg", "TORCH_INDEX=", *(["--file", file] if file else []), "--tag", tag, str(context))


def _mnist_files(mnist_root: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        shutil.copy(mnist_root / "MNIST" / "raw" / name, into / name)


def _autograder(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "autograder", *arguments], cwd=ROOT, check=True, capture_output=True,
                   timeout=300)


def question_folder(tag: str = PRAIRIELEARN) -> Path:
    """The PrairieLearn question as an instructor writes it, rewritten in place as after a grader change, so
    that it keeps its uuid: then an unchanged grader is an unchanged build context, which the engine's
    cache knows."""
    QUESTION.parent.mkdir(parents=True, exist_ok=True)
    _autograder("prairielearn", str(QUESTION), "--image", tag)
    return QUESTION


def build_prairielearn(mnist_root: Path, no_cache: bool, base: str = BASE, tag: str = PRAIRIELEARN) -> Path:
    """Build the question's own Dockerfile; returns the question folder (its ``tests/`` is what PrairieLearn mounts)."""
    folder = question_folder(tag)
    _mnist_files(mnist_root, folder / "mnist")
    _build(folder, tag, base, no_cache)
    return folder


GRADESCOPE_BUILD = """ARG BASE
FROM ${BASE}
ARG TORCH_INDEX PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_CERT
{packages}COPY source /autograder/source
COPY mnist /tmp/mnist
RUN cp /autograder/source/run_autograder /autograder/run_autograder \\
    && cd /autograder/source && MNIST_FROM=/tmp/mnist bash setup.sh && rm -rf /tmp/mnist
"""
# Gradescope installs everything in one step. Unless the build is from nothing, the packages come first, in
# a layer that changes only with requirements-grading.txt, so that a new grader rebuilds in a minute: setup.sh
# then runs in full, and pip finds them installed.
PACKAGES_FIRST = """COPY packages /tmp/packages
RUN cd /tmp/packages && bash install.sh --packages-only && rm -rf /tmp/packages
"""


def build_gradescope(scratch: Path, mnist_root: Path, no_cache: bool, base: str = BASE, tag: str = GRADESCOPE) -> None:
    """Gradescope's build of the bundle: unzipped into /autograder/source (modes kept), then setup.sh."""
    context = scratch / "gradescope"
    _autograder("gradescope", str(scratch / "bundle"))
    with zipfile.ZipFile(scratch / "bundle" / "autograder.zip") as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, context / "source"))
            if info.external_attr >> 16:
                path.chmod(info.external_attr >> 16 & 0o777)
    _mnist_files(mnist_root, context / "mnist")
    (context / "packages").mkdir()
    for name in ("requirements-grading.txt", "autograder/platform/install.sh"):
        shutil.copy(context / "source" / name, context / "packages")
    (context / "Containerfile").write_text(GRADESCOPE_BUILD.replace("{packages}", "" if no_cache else PACKAGES_FIRST))
    _build(context, tag, base, no_cache, str(context / "Containerfile"))


def _run(image: str, mounts: list[str], command: list[str], limits: Limits, peak_into: Path | None,
         timeout: float) -> tuple[float, str]:
    """Run ``command`` in a fresh container of ``image``; with ``peak_into``, under MEASURE, whose figures
    are written there."""
    if peak_into is not None:
        mounts = [*mounts, f"--volume={peak_into.parent}:/measure"]
        command = ["python3", "-c", MEASURE, f"/measure/{peak_into.name}", *command]
    started = time.perf_counter()
    run = subprocess.run(["podman", "--runtime", "runc", "run", "--rm", "--network=none", *ULIMITS,
                          *limits.options(), *mounts, image, *command], capture_output=True, timeout=timeout)
    seconds = time.perf_counter() - started
    return seconds, (run.stdout + run.stderr).decode(errors="replace")


def _memory(path: Path | None) -> dict[str, int | None]:
    try:
        return json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}


def grade_prairielearn(question: Path, files: dict[str, Path], scratch: Path, image: str = PRAIRIELEARN,
                       limits: Limits = PRAIRIELEARN_LIMITS, measure: bool = False, timeout: float = 900) -> Graded:
    """One PrairieLearn grading: /grade with the question's tests, the student's files, data.json, results/."""
    grade = Path(tempfile.mkdtemp(dir=scratch, prefix="grade."))
    shutil.copytree(question / "tests", grade / "tests", symlinks=True)
    (grade / "student").mkdir()
    for name, source in files.items():
        shutil.copy(source, grade / "student" / name)
    (grade / "data").mkdir()
    data = {"params": {}, "correct_answers": {}, "submitted_answers": {"_files": [{"name": n} for n in files]},
            "format_errors": {}, "partial_scores": {}, "score": 0, "feedback": {}, "variant_seed": 1,
            "options": {}, "raw_submitted_answers": {}, "editable": False, "panel": "submission",
            "extensions": {}, "num_valid_submissions": 1}
    (grade / "data" / "data.json").write_text(json.dumps(data))
    (grade / "results").mkdir()
    peak = scratch / f"peak.{grade.name}" if measure else None
    seconds, log = _run(image, [f"--volume={grade}:/grade"], ["/grade/tests/run_grader"], limits, peak, timeout)
    return Graded(_results(grade / "results" / "results.json"), seconds, _memory(peak), log)


def grade_gradescope(files: dict[str, Path], scratch: Path, image: str = GRADESCOPE,
                     limits: Limits = GRADESCOPE_LIMITS, measure: bool = False, timeout: float = 900) -> Graded:
    """One Gradescope grading: the submission, an empty results folder and the submission's metadata."""
    run = Path(tempfile.mkdtemp(dir=scratch, prefix="autograder."))
    (run / "submission").mkdir()
    for name, source in files.items():
        shutil.copy(source, run / "submission" / name)
    (run / "results").mkdir()
    metadata = {"id": 1, "created_at": "2026-12-06T10:00:00.000000-08:00", "previous_submissions": [],
                "users": [{"email": "student@example.edu", "id": 1, "name": "A Student"}],
                "assignment": {"id": 1, "title": "MNIST CNN", "total_points": "100.0"}}
    (run / "submission_metadata.json").write_text(json.dumps(metadata))
    mounts = [f"--volume={run / 'submission'}:/autograder/submission",
              f"--volume={run / 'results'}:/autograder/results",
              f"--volume={run / 'submission_metadata.json'}:/autograder/submission_metadata.json:ro"]
    peak = scratch / f"peak.{run.name}" if measure else None
    seconds, log = _run(image, mounts, ["/autograder/run_autograder"], limits, peak, timeout)
    return Graded(_results(run / "results" / "results.json"), seconds, _memory(peak), log)


def _results(path: Path) -> dict:
    """The results file, or {} when the container wrote none (the log says why)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _timed(what: str, step: Callable[[], T]) -> T:
    started = time.perf_counter()
    value = step()
    print(f"{what}: built in {time.perf_counter() - started:.0f} s", flush=True)
    return value


def build_all(scratch: Path, mnist_root: Path, no_cache: bool) -> Path:
    """The pristine base (built afresh with ``no_cache``, or when there is none), then both images
    (``no_cache``: every step run again, as on a new machine); returns the question folder."""
    if no_cache or subprocess.run(["podman", "image", "exists", BASE]).returncode:
        _timed("the pristine base", build_base)
    # One after the other: two builds committing their 6 GB layers at once once failed in the engine.
    question = _timed("the PrairieLearn image", lambda: build_prairielearn(mnist_root, no_cache))
    _timed("the Gradescope image", lambda: build_gradescope(scratch, mnist_root, no_cache))
    for image in (PRAIRIELEARN, GRADESCOPE):
        size = podman("image", "inspect", image, "--format", "{{.Size}}").strip()
        print(f"{image}: {int(size) / 1024**3:.1f} GB", flush=True)
    return question


def _figures(graded: Graded, platform: str) -> str:
    if not graded.results:
        return "no results: " + (graded.log.strip().splitlines() or ["(nothing printed)"])[-1]
    score = graded.results.get("score", 0) * (100 if platform == "PrairieLearn" else 1)
    memory = ", ".join(f"{name.replace('_', ' ')} {value / 1024**2:.0f} MB"
                       for name, value in graded.memory.items() if value is not None)
    return f"{graded.seconds:.1f} s, {memory or 'memory unknown'}, score {score:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "measure"))
    parser.add_argument("--no-cache", action="store_true", help="run every build step again")
    parser.add_argument("--repeat", type=int, default=2, help="gradings of the solution per container (measure)")
    options = parser.parse_args()
    if missing := missing_tools():
        print(f"grading_images: needs {', '.join(missing)} (apt-get install podman runc mmdebstrap, as root)",
              file=sys.stderr)
        return 2
    from helpers.data import mnist_root

    solution = {"cnn.ipynb": ROOT / "source" / "cnn" / "cnn.ipynb"}
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="grading-images.") as folder:
        scratch = Path(folder)
        try:
            question = build_all(scratch, mnist_root(), options.no_cache)
        except ImageError as error:
            print(f"grading_images: {error}", file=sys.stderr)
            return 1
        if options.command == "build":
            return 0
        print("the solution in each container (time from `podman run` to its exit; the largest process's peak "
              "resident size; the container's counter, which includes the page cache):")
        for platform, limits in CONTAINERS:
            for _ in range(options.repeat):
                if platform == "PrairieLearn":
                    graded = grade_prairielearn(question, solution, scratch, limits=limits, measure=True)
                else:
                    graded = grade_gradescope(solution, scratch, limits=limits, measure=True)
                print(f"  {platform}, {limits.cpus} CPU, {limits.memory_mb} MB: {_figures(graded, platform)}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
