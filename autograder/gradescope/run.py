"""Grade one Gradescope submission: ``run_autograder`` calls ``python3 -m autograder.gradescope.run ROOT``.

ROOT is Gradescope's ``/autograder``: the student's files are in ``ROOT/submission``, the bundle in
``ROOT/source`` and the results go to ``ROOT/results/results.json``. Whatever happens, a results file is
written, so the student sees a reason rather than Gradescope's bare "the autograder failed".
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..leave import leave
from ..platform.grading import close_to_sandbox, entry_point_arguments, grade_upload, killed_note
from ..results import write_json_atomically
from . import present
from .config import BundleConfig, ConfigError, load_config
from .ratelimit import MetadataError, over_limit, read_metadata


def limited(root: Path, config: BundleConfig) -> dict | None:
    """The results to keep instead of grading when the submission is over the bundle's limit; None to
    grade it (also when the metadata cannot be read: a broken file must not cost the student a grading)."""
    if config.max_submissions is None:
        return None
    try:
        now, earlier = read_metadata(root / "submission_metadata.json")
    except MetadataError as error:
        print(f"autograder: submission limit not applied, the metadata is unreadable: {error}")
        return None
    return over_limit(now, earlier, config.max_submissions, config.per_hours)


def main(argv: list[str] | None = None) -> int:
    args = entry_point_arguments("python3 -m autograder.gradescope.run", __doc__.splitlines()[0], Path("/autograder"),
                                 argv)
    root, results = args.root, args.root / "results" / "results.json"
    if args.grader_killed is not None:
        print(killed_note(args.grader_killed), file=sys.stderr)
        write_json_atomically(results, present.fault(BundleConfig()))
        return 2
    try:
        close_to_sandbox([root, root / "source", root / "submission", root / "results"])  # metadata: names, e-mails
        config = load_config(root / "source")
    except (OSError, ConfigError) as error:
        print(f"autograder: cannot grade: {error}", file=sys.stderr)
        write_json_atomically(results, present.fault(BundleConfig()))
        return 2
    kept = limited(root, config)
    if kept is not None:
        write_json_atomically(results, present.shown(kept, config))
        print(kept["output"])
        return 0
    outcome = grade_upload(root / "submission", args.isolation)
    if outcome.not_gradable:
        print(f"autograder: not graded: {outcome.not_gradable}", file=sys.stderr)
        write_json_atomically(results, present.not_graded(outcome.not_gradable, config))
        return 0
    if outcome.fault:
        write_json_atomically(results, present.fault(config))
        return 2
    assert outcome.verdict is not None
    write_json_atomically(results, present.graded(outcome.verdict, config))
    print(outcome.verdict.table())
    return 0


if __name__ == "__main__":
    leave(main())
