"""``python -m autograder``: see :mod:`autograder.cli`."""

from .cli import main
from .leave import leave

leave(main())
