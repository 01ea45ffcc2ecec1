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
  ``none`` (only when asked for, ``--no-isolation`` or ``--isolation none``): a plain child process, for
    debugging.

  In every mode: a seccomp filter the harness installs on itself before the first cell
  (``harness/syscalls.py``: no namespaces, no thread with a descriptor table of its own, no mounts,
  System V IPC, memory files, io_uring, AIO, tracing, sockets other than ``AF_UNIX``, ``connect`` or an
  address on ``sendto`` (so no socket it did not make itself), descriptors in flight, larger socket and
  pipe buffers, page splicing, extended attributes, record locks, inotify), inherited by all it starts;
  resource limits (wall clock, CPU time, memory of all its processes, process count, open files, file
  size, message queues, pending signals, printed output) as rlimits and a watchdog that counts resident
  memory, page tables and swap, RAM held in files (tmpfs folders with their inodes, deleted or
  shared-memory files open or only mapped, the shared folders), the kernel buffers of its sockets and
  pipes, its epoll watches and the kernel's records of its mappings; plus a cgroup v2 of its own where
  the machine allows it (``cgroups.py``); one thread, no GPU, no data.

  The first record the harness sends is ``STARTED``, once its filter is in place and before any student
  code. A sandbox that ends without it never ran student code, so its exit status and last words say why
  it could not start (a grader error, or under a warm sandbox a cold rerun); after it, every status is
  the submission's own, so student code cannot pose as a sandbox that failed to start.

The warm sandbox (batches)
--------------------------
A batch worker grades one submission after another, and a cold harness spends seconds of CPU on starting
Python and importing PyTorch each time. There, with bubblewrap, the worker keeps a *zygote*
(``harness/zygote.py``, grader side ``warm.py``): a harness started by the same bubblewrap command line
(without ``--disable-userns``), which imports PyTorch, torchvision, the export machinery and the course's
``helpers``, traces one tiny model, and then only forks. It never runs student code and never reads a job.
For each submission it receives four descriptors (job, stdout, stderr, channel) on its control socket
and forks a middle process, which takes them as 0-3, closes everything else, and enters a new user
namespace (its uid and gid mapped to themselves, ``setgroups`` denied) and a new PID namespace; its
child, pid 1 there, drops every capability the new namespace gave it (bounding and ambient sets too,
checked), sets its process limit inside its own user namespace, installs the filter and runs the job as
a cold harness does. What one submission leaves cannot reach the next:

* its processes die with its PID namespace when its pid 1 ends or is killed; it cannot name the zygote,
  the middle process or any other process (``kill(-1)`` reaches only its own);
* a child that must be stopped is killed from its pid 1 down, never its middle process first: the
  middle's wait ends only once the PID namespace is empty, so no process of the child is left to write;
* once a child ended, the zygote empties ``/sandbox``, ``/tmp`` and ``/dev/shm`` whatever their modes
  (each folder moved up to the top first, so a deep chain costs no more than a flat folder), puts their
  own modes back and checks they are as they were when warm, before it reports the end, and again
  before the next fork;
* the child starts a session of its own, so ``kill(0)`` and process-group calls reach only its own;
* the zygote is not dumpable, so no child may open its ``/proc`` files (``mem`` included), and the filter
  refuses ``ptrace`` and ``process_vm_writev``: its memory is only ever copied;
* before each fork the zygote compares its limits, priority, CPU affinity and thread count with what they
  were once warm, and stops if anything changed; the worker then starts a new one.

The kernel uid is the same for every child of one zygote (they run one at a time); the network, IPC
and UTS namespaces are the zygote's, where a child's sockets and names die with its processes and the
filter refuses System V IPC and host names. The watchdog counts the child's processes (not the zygote's)
plus the middle process's task, and charges the child the library pages of the zygote it has not
touched itself, so that the memory limit leaves the room a cold harness has. Wherever the zygote cannot
start or fork, or ends under a submission, the submission runs in a cold sandbox.
``tests/sandbox/test_warm_sandbox.py`` grades a submission that poisons everything it can reach, then a
correct one that checks for each effect.

Host-wide tables and kernel charges
-----------------------------------
The kernel keeps some counts for the whole machine; a sandbox that filled one would starve every other
process. Each, with what keeps the sandbox's share small (``tests/sandbox/test_sandbox_tables.py``
tries each in both sandboxes; the limits are ``process.Limits``):

* AIO contexts (``fs.aio-max-nr``): ``io_setup`` answers ENOSYS (the filter); io_uring is refused too.
* open files (``fs.file-max``): ``RLIMIT_NOFILE`` 256 per process, ``RLIMIT_NPROC`` 64 tasks: at most
  16,384 (eventfd, timerfd, signalfd, pidfd and epoll descriptors are open files too).
* pseudo-terminals (``kernel.pty.max``): bubblewrap mounts an empty, read-only ``/dev/pts``; in the
  ``user`` mode Landlock grants no ``/dev/ptmx``. Without Landlock, only the open-file bound holds.
* POSIX message queues (``fs.mqueue.queues_max``): ``RLIMIT_MSGQUEUE`` 0, so none can be created.
* System V IPC (``kernel.shmmni``, ``semmni``, ``msgmni``): refused by the filter (and a private IPC
  namespace under bubblewrap).
* processes and threads (``kernel.pid_max``, ``kernel.threads-max``): ``RLIMIT_NPROC`` 64 for the
  sandbox's uid (and a cgroup v2 ``pids.max`` where there is one); see below for how it is counted.
* POSIX timers and queued signals: ``RLIMIT_SIGPENDING`` 1,024 for its uid (each timer reserves one).
* keys (``kernel.keys.maxkeys``), fanotify groups, user namespaces (``user.max_user_namespaces``),
  BPF, perf events, userfaultfd: refused by the filter.
* inotify instances and watches (``fs.inotify.max_user_*``): ENOSYS from the filter.
* epoll watches (``fs.epoll.max_user_watches``, per uid): charged by the watchdog, 512 bytes each.
* descriptors in flight on unix sockets (kernel memory no process holds): ``sendmsg`` is refused.
* pipe pages (``fs.pipe-user-pages-*``, per uid): the default size only, charged by the watchdog.
* mappings (``vm.max_map_count`` is per process): each costs some 230 bytes of slab no resident size
  shows (60 processes splitting one mapping 65,000 ways held 840 MB); the watchdog charges 320 bytes
  per mapping, a process with a long listing at its most (``vm.max_map_count``: 21 MB), so 64 tasks
  can hold at most some 1.3 GB, all of it within the memory limit.
* locked memory (``RLIMIT_MEMLOCK``, per process): locked pages are resident, so counted.

Residue, counted by nothing but bounded by the limits above: the kernel's per-task, per-file and
per-signal structures (task, stack, file and sigqueue objects: measured, 63 processes holding 250 open
files each took 9 MB of unreclaimable slab, kernel stacks and page tables together; 1,024 queued signals
add some 0.1 MB), and caches the kernel reclaims under pressure (directory entries of names looked up,
inodes of files read).

Processes, threads and a busy machine
-------------------------------------
``RLIMIT_NPROC`` is checked against a count per uid, so whose tasks count depends on the mode. Since
Linux 5.14 the count is kept per (user namespace, uid), and a fork must fit at every level up to the
initial namespace: at the namespace of the new task, under the task's own limit, and at each level
above, under the limit its creator had when it made the namespace.

* As root, the sandbox runs as a uid of its own, claimed for the whole kernel, with the limit 64: only
  its own tasks count (and the uid's marker process). Processes that ended but were not yet reaped
  (``DataLoader`` workers) count until reaped; they are the sandbox's own too.
* Not as root, bubblewrap makes a user namespace and the sandbox runs as the grader's uid. A limit
  set before bubblewrap starts would count every task of the grader's uid, on top of what ran then:
  other gradings started afterwards, with their PyTorch threads and ``DataLoader`` workers, would use
  the sandbox's allowance and make its ``fork`` and ``pthread_create`` fail with EAGAIN. So bubblewrap
  starts with the grader's own limit (the namespace takes it as the most its tasks may add to the
  grader's uid), and the harness sets 64 on itself first thing, before any thread exists, inside the
  namespace (``--processes``), where only the sandbox's tasks count. Nothing in the namespace can
  raise it again: that takes ``CAP_SYS_RESOURCE`` in the initial namespace.
* Where the machine has cgroup v2, ``pids.max`` 64 counts every task of the sandbox's cgroup (the
  bubblewrap processes included, the marker not): also the sandbox's own tasks alone, whichever of the
  two limits it reaches first.

A machine can still refuse a task the sandbox is allowed: ``kernel.threads-max``, ``kernel.pid_max``,
the limit of a container or of the grader's user, a same-uid sandbox of a grader in another container.
That is the grader's failure, not the student's (``autograder/shortage.py``): when a step fails with an
EAGAIN-class error ("Resource temporarily unavailable", "can't start new thread") while the most tasks
the watchdog counted of the sandbox's own processes (read from ``/proc`` every 50 ms, the bubblewrap
processes and the marker included, so never fewer than the kernel counts) stayed below its allowance,
the grading is run again. A second such run is a grader error, never lost points, where the grader saw
the machine short of tasks itself (its cgroup's ``pids.events`` counted a refusal, or the room it reads
each second, plus the sandbox's own tasks, fell below the allowance); otherwise its verdict stands, with
a note. The error text only
triggers this; the counts are the grader's. Code that uses up its allowance in a burst that ends
between two readings, or forges the error, gets a second run and the verdict its failure earns, never
points and never a grader error.
Unconfined (``none``), the limit is what the grader's uid runs at the start plus 64, which later load
can use up.

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
