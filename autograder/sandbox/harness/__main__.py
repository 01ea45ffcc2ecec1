"""Entry point inside the sandbox: ``python -I <folder>/harness/__main__.py``, with ``helpers/`` beside
``harness/`` in that folder. ``-I`` keeps the environment and the working folder out of ``sys.path``;
the folder is put back explicitly, and nothing else.

``--processes N`` (bubblewrap in a user namespace): the harness sets its own ``RLIMIT_NPROC`` to N first,
before any thread exists, so that the kernel counts it against the tasks of the sandbox's user
namespace alone, not those of every process the grader's user runs (see the package's theory of
operation); no process in the namespace can raise it again.

``--zygote N``: the warm sandbox (``zygote``): control socket on file descriptor 3, each child limited to
N tasks in a user namespace of its own."""

import os
import resource
import sys

arguments = sys.argv[1:]
if arguments[:1] == ["--processes"]:
    _PROCESSES = int(arguments[1])
    resource.setrlimit(resource.RLIMIT_NPROC, (_PROCESSES, _PROCESSES))
    arguments = arguments[2:]

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if arguments[:1] == ["--zygote"]:
    from harness.contract import CHANNEL_FD
    from harness.zygote import serve

    serve(CHANNEL_FD, int(arguments[1]))
else:
    from harness.runner import main  # importable through the path above

    main()
