"""The instructor's choices baked into the bundle (``gradescope.json`` beside ``setup.sh``): when students
see the hidden checks and the grader's printed output, how much a lost check's hint gives away, and how many
submissions are graded per period."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..hints import HINT_LEVELS

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")   # Gradescope's own values
CONFIG_NAME = "gradescope.json"


class ConfigError(ValueError):
    """An option the bundle cannot carry; the message says which and why."""


@dataclass(frozen=True)
class BundleConfig:
    visibility: str = "visible"            # of each check's test, its points and reason
    stdout_visibility: str = "hidden"      # of what run_autograder prints (the full table of checks)
    max_submissions: int | None = None     # graded submissions allowed per ``per_hours``; None: no limit
    per_hours: float = 24.0
    hints: str = "full"                    # of a lost check: the full hint, a pointer to the notebook's step, none

    def __post_init__(self) -> None:
        for key in ("visibility", "stdout_visibility"):
            if getattr(self, key) not in VISIBILITIES:
                raise ConfigError(f"{key} must be one of {', '.join(VISIBILITIES)}, not {getattr(self, key)!r}")
        if self.hints not in HINT_LEVELS:
            raise ConfigError(f"hints must be one of {', '.join(HINT_LEVELS)}, not {self.hints!r}")
        limit = self.max_submissions
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError(f"the submission limit must be a whole number of at least 1, not {limit!r}")
        if isinstance(self.per_hours, bool) or not isinstance(self.per_hours, (int, float)) or not self.per_hours > 0:
            raise ConfigError(f"the limit's period must be a positive number of hours, not {self.per_hours!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def load_config(source: Path) -> BundleConfig:
    """The options in ``source/gradescope.json``; the defaults for a bundle built without one."""
    path = source / CONFIG_NAME
    if not path.is_file():
        return BundleConfig()
    try:
        return BundleConfig(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{path} is not a valid bundle configuration: {error}") from None
