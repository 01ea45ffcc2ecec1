"""The sandbox: where a student's notebook code runs, and the one boundary it cannot cross.

Theory of operation
-------------------
Two processes take part in grading one submission.

* The **grader** (``autograder.engine``, this package's ``process.py``) runs with the rights of
  whoever started it: it reads the submission, the MNIST data and its own code, and writes results.
  It never imports or calls student Python.
* The **harness** (the ``harness`` package) runs the student's answer cells and the assignment's given
  cells, then records what the code built and did (exported model graphs, the loss on drawn inputs,
  what one optimizer step changed, the weights and accuracies ``train_model`` leaves on a probe
  problem), effects the grader recomputes rather than trusts. It is the only process that runs
  student code, and it runs confined by one of the modes of ``isolation.py``:

  ``bubblewrap`` (the default wherever namespaces can be created): ``bwrap`` gives the harness
    private PID, network, IPC and UTS namespaces, so it sees no other process, has no network and
    every process it starts dies with it; a filesystem of nothing but the Python installation and
    system libraries, read-only, the harness and the student-facing ``helpers`` read-only, and three
    size-limited tmpfs folders (``/sandbox``, its working folder, ``/tmp`` and ``/dev/shm``), with the
    Python installation mounted after them so that none hides it; no environment but a fixed list of
    variables. When the grader runs as root, the harness drops to an unprivileged uid of its own, with no
    capabilities and ``no_new_privs``.
  ``user`` (the fallback where namespaces are refused, e.g. a Docker container as on Gradescope):
    the harness runs as an unprivileged uid of its own, in a private folder only that uid can enter,
    confined by Landlock where the kernel has it (``landlock.py``: read only Python and system files,
    write only its folder and ``/dev/shm``); before it starts, a probe as that uid must fail to read the
    grader's code, the course, the submission and the data (``exposure.py``), else grading stops.
    Afterwards every process of that uid in the grader's PID namespace is killed and its files in the
    shared folders removed. Other processes stay visible in ``/proc``.
  ``none`` (only when asked for with ``--no-isolation``): a plain child process, for debugging.

  In every mode: a seccomp filter the harness installs on itself before the first cell
  (``harness/syscalls.py``: no namespaces, mounts, System V IPC, memory files, io_uring, tracing,
  sockets other than ``AF_UNIX``, descriptors in flight, larger socket and pipe buffers, page splicing,
  extended attributes, record locks, inotify), inherited by all it starts; resource limits (wall clock,
  CPU time, memory of all its processes, process count, open files, file size, message queues, pending
  signals, printed output) as rlimits and a watchdog that counts resident memory, page tables and swap,
  RAM held in files (tmpfs folders with their inodes, deleted or shared-memory files open or only
  mapped, the shared folders), the kernel buffers of its sockets and pipes and its epoll watches; plus a
  cgroup v2 of its own where the machine allows it (``cgroups.py``); one thread, no GPU, no data.

Channels
--------
* grader -> harness: the job (cells, seeds, names to record) as JSON on the harness's **stdin**.
* harness -> grader: **file descriptor 3**, a pipe carrying framed records (``channel.py``): a header
  line ``{"name": ..., "size": ...}`` then the bytes. The grader drains it in a thread, accepts only
  known names and bounded sizes, and stores the records in its own private folder, which the sandbox
  cannot see. stdout and stderr go to files in that folder, bounded by the file-size limit.

Everything that comes back is treated as hostile data: the report is validated against a schema
(``autograder.report``), tensors are loaded with ``weights_only=True``, and exported graphs are
screened and costed before the grader runs them (``autograder.artifacts``). Student code can forge
anything the harness observes *inside* the sandbox (it shares the harness's process); what the
grader recomputes itself, and what it takes from the sandbox, is listed in the README.
"""
