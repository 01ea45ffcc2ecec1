"""Grade one PrairieLearn submission: ``run_grader`` calls ``python3 -m autograder.prairielearn.run ROOT``.

ROOT is PrairieLearn's ``/grade``: the student's files are in ``ROOT/student``, the grader in
``ROOT/tests`` and the results go to ``ROOT/results/results.json``. Whatever happens, a results file is
written and the exit status is 0: PrairieLearn throws the results away when the entry point fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..leave import leave
from ..platform.grading import close_to_sandbox, entry_point_arguments, grade_upload, killed_note
from ..results import write_json_atomically
from . import results

HIDDEN = ("tests", "student", "serverFilesCourse", "data", "results")   # everything PrairieLearn mounts


def main(argv: list[str] | None = None) -> int:
    args = entry_point_arguments("python3 -m autograder.prairielearn.run", __doc__.splitlines()[0], Path("/grade"),
                                 argv)
    try:
        (args.root / "results").mkdir(parents=True, exist_ok=True)   # PrairieLearn does not create it
        if args.grader_killed is not None:
            print(killed_note(args.grader_killed), file=sys.stderr)
            written = results.fault()
        else:
            close_to_sandbox([args.root, *(args.root / name for name in HIDDEN)])
            written = results.results_of(grade_upload(args.root / "student", args.isolation))
    except OSError as error:  # the folders cannot be closed: grading would expose them to the sandbox
        print(f"autograder: cannot grade: {error}", file=sys.stderr)
        written = results.fault()
    write_json_atomically(args.root / "results" / "results.json", written)
    if outcome_text := written.get("format_errors"):
        print(f"autograder: {outcome_text[0]}", file=sys.stderr)   # "Not graded: ..." already
    else:
        print(written["output"])
    return 0


if __name__ == "__main__":
    leave(main())
