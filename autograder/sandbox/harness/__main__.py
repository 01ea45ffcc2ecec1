"""Entry point inside the sandbox: ``python -I <folder>/harness/__main__.py``, with ``helpers/`` beside
``harness/`` in that folder. ``-I`` keeps the environment and the working folder out of ``sys.path``;
the folder is put back explicitly, and nothing else."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness.runner import main  # importable through the path above

main()
