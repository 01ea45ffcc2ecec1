"""What the harness and the grader agree on, written once: the channel, the records and the bounds
(the probe problems are in ``problems``). Both sides import this module, the harness from inside the
sandbox, so a change here is a change on both ends. It imports no PyTorch: the grader reads it before
starting a sandbox, and that must stay quick.
"""

from __future__ import annotations

import re

# ---- the channel: harness -> grader ----
CHANNEL_FD = 3                      # the one pipe back; stdin carries the job, stdout/stderr go to files
HEADER_BYTES = 200                  # a record's header line: {"name": ..., "size": ...}
RECORD_BYTES = 64 * 1024**2         # one record
TOTAL_BYTES = 512 * 1024**2         # everything one sandbox may send
RECORDS = 500                       # records one sandbox may send
GRAPH_PARTS = ("exported_program", "state_dict", "constants", "example_inputs")
RECORD_NAME = re.compile(r"[a-z0-9_]{1,40}\.(json|pt|" + "|".join(GRAPH_PARTS) + ")")
REPORT = "report.json"
STARTED = "started.json"            # sent once the filter is in place, before any student code: whatever
                                    # status follows it is the submission's, never a failure to start
OPTIMIZER_STEP = "optimizer_step.pt"

# ---- the warm sandbox (``zygote``): grader -> zygote ----
ZYGOTE_FDS = 4                      # sent with each fork: the job, stdout, stderr, the channel
JOB_START = b" "                    # the job's first byte (JSON allows it): the middle process's cue to fork
ZYGOTE_TASKS = 2                    # the zygote and a child's middle process, besides the child's own
WARM_FOLDERS = ("/sandbox", "/tmp", "/dev/shm")   # the writable folders, emptied after each child


def loop_trace_record(epochs: int) -> str:
    """The probe network's state at each pass over and each batch drawn from the loaders (``TRACE_*``)."""
    return f"loop_{epochs}_trace.pt"


def graph_record(key: str, part: str) -> str:
    return f"{key}.{part}"


def second_key(key: str) -> str:
    """The key of a model's second graph, traced for ``problems.second_batch``."""
    return f"{key}_second"


def filters_key(filters: tuple[int, ...] | list[int]) -> str:
    """The key under which ``CNN(filters=...)`` is exported."""
    return "cnn_" + "_".join(map(str, filters))


# ---- the report: bounds both sides hold to ----
OUTPUT_KEPT = 2000                  # characters of a phase's printed output kept in the report
ERROR_KEPT = 1000                   # characters of a phase's error message
MAX_PHASES = 200
MAX_ACCURACIES = 1000               # entries of a returned test_acc list
MAX_COUNT = 10**12                  # any whole number in the report (counts of dropped characters ...)
COMPLETE_MARK = b'"complete": true}'  # how the last report ends when the harness got to the end

# ---- exported graphs ----
EXPORT_BATCH = 100                  # graphs are traced for this batch, and each model once more for a batch
SECOND_BATCHES = (2, 99)            # drawn from the job's seed in this range (``problems.second_batch``)

# ---- the probe problems (see ``problems``) ----
CRITERION_SHAPE = (16, 10)          # logits of 16 samples and 10 classes
OPTIMIZER_STEPS = 2                 # steps with the same gradient: momentum or decay show in the second
OPTIMIZER_CHOICES = ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
LOOP_EPOCHS = (1, 3)                # train_model is called once with each, on problems of its own
PROBE_FEATURES, PROBE_HIDDEN, PROBE_CLASSES = 6, 12, 4
PROBE_BATCH = 16
PROBE_TRAIN_BATCHES = (104, 200)    # batches per epoch, drawn from the job's seed: a stray `break` shows
PROBE_TEST_BATCHES = (12, 40)
PROBE_MARKERS = 4                   # marker batches per epoch, two of each parity, besides the last batch
PROBE_LR = 0.1
PROBE_MOMENTUM = 0.9                # the marker parameter's momentum: how its steps follow its gradients shows
TRACE_EVENTS = 12000                # snapshots the loop probe records at most
TRACE_TRAIN, TRACE_TEST, TRACE_FINAL = 0, 1, 2          # which loader (or the end of the call)
TRACE_START, TRACE_BATCH, TRACE_END = 0, 1, 2           # a pass begins, a batch is drawn, a pass is exhausted
