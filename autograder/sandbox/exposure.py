"""Before student code runs as the sandbox's uid, prove that this uid cannot read what it must not:
the grader's code, the course's files, other submissions and the data.

Mode bits can mislead (ACLs, groups, Landlock, a folder above that opens or closes the way), so the
proof is an attempt: a tiny Python process, started exactly as the sandbox will be (same uid, same
limits, same Landlock ruleset), tries to open each file and list each folder, and reports what it
could. Anything it could read stops the grading with one line naming the path and the fix.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from .isolation import PROJECT, IsolationUnavailable, interpreter

PROBE = """
import json, os, sys
found = []
for path in json.load(sys.stdin):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            os.close(os.open(path, os.O_RDONLY))
        found.append(path)
    except OSError:
        pass
print(json.dumps(found))
"""


def sensitive_paths(submission: Path, data: Path) -> list[Path]:
    """What the sandbox must not read: the grader's package and the course's source (the project itself
    may stay traversable: a virtual environment inside it must be), the submission and its folders (up
    to the course of an nbgrader layout: gradebook, other students, results), the data."""
    paths = [PROJECT / "autograder", *sorted(PROJECT.glob("autograder/*.py"))[:3],
             PROJECT / "source", *sorted(PROJECT.glob("source/*/*.ipynb"))]
    submission = submission.resolve()
    paths += [submission, submission.parent]
    if len(submission.parents) > 3 and submission.parents[2].name == "submitted":   # course/submitted/<who>/<what>
        course = submission.parents[3]
        paths += [course, course / "submitted", course / "autograded", course / "source", course / "gradebook.db"]
    raw = data / "MNIST" / "raw"
    paths += [data, data / "MNIST", raw, *sorted(raw.glob("*"))[:2]]
    return [path for path in dict.fromkeys(paths) if path.exists()]


def readable_by_sandbox(paths: list[Path], cwd: str, env: dict[str, str], prepare: Callable[[], None]) -> list[str]:
    """Those of ``paths`` that a process started with ``prepare`` (uid, limits, Landlock) can read."""
    result = subprocess.run([interpreter(), "-I", "-S", "-c", PROBE], input=json.dumps([str(p) for p in paths]),
                            capture_output=True, text=True, cwd=cwd, env=env, preexec_fn=prepare, timeout=60)
    try:
        return list(json.loads(result.stdout))
    except ValueError:
        raise IsolationUnavailable("the separate-user sandbox could not be checked for what it can read: "
                                   + (result.stderr.strip().splitlines() or ["no output"])[-1][:200]) from None


def refuse_if_exposed(paths: list[Path], uid: int | None, cwd: str, env: dict[str, str],
                      prepare: Callable[[], None]) -> None:
    """Raise ``IsolationUnavailable`` naming the first path the sandbox's uid can read, and the fix."""
    exposed = readable_by_sandbox(paths, cwd, env, prepare)
    if exposed:
        raise IsolationUnavailable(
            f"not grading: the sandbox's user (uid {uid}) could read {exposed[0]}"
            + (f" and {len(exposed) - 1} more" if len(exposed) > 1 else "")
            + f"; make it private (chmod o-rwx {exposed[0]}), or grade where bubblewrap works")
