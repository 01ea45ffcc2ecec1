"""The harness: the only code that runs student Python, inside the sandbox (see ``autograder.sandbox``).

It is started as ``python -I harness/__main__.py`` with the job on stdin and the channel on file
descriptor 3, imports nothing from the grader, and knows no hidden check or expected value. One job
per module:

* ``contract``: what the harness and the grader agree on: channel, records, bounds (the grader
  imports it too);
* ``problems``: the probe problems, drawn from the job's seed (the grader imports it too);
* ``wire``: the channel's sending end, bound before any student code runs;
* ``phases``: each step under a time budget, with its printed output captured and bounded;
* ``notebook``: running notebook cells (IPython syntax, ``get_ipython()``) outside IPython;
* ``exports``: the student's models as graphs of PyTorch operators;
* ``probes``: the loss, the optimizer and ``train_model`` called on the contract's probe problems;
* ``runner``: the order of it all.
"""
