"""Print what CI takes from the README, so that what CI runs and what users read cannot drift apart.

``readme.py setup``: the first fenced bash block under the heading "### Install, then grade", as written.
``readme.py packages``: the Debian packages of the prerequisites (the ``apt-get install`` line of the first
fenced bash block under "### Prerequisites"), space-separated.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def block_under(heading: str) -> str:
    """The first ```bash block after the line ``heading``."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    match = re.compile(r"^```bash\n(.*?)^```", re.S | re.M).search(text, start)
    if match is None:
        raise SystemExit(f"readme.py: no bash block under {heading!r} in {README}")
    return match.group(1)


def main(what: str) -> str:
    if what == "setup":
        return block_under("### Install, then grade")
    if what == "packages":
        line = next((line for line in block_under("### Prerequisites").splitlines() if "apt-get install" in line), "")
        words = line.split("#")[0].split("apt-get install", 1)[-1].split()
        return " ".join(word for word in words if not word.startswith("-"))
    raise SystemExit("usage: readme.py setup|packages")


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) == 2 else ""))
