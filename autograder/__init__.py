"""Hidden grading engine for the ``cnn`` assignment.

The student's notebook code runs in a separate, resource-limited process (``sandbox``) that returns
artifacts: exported computation graphs of the three models, a loss value, parameter changes, probe
weights and the accuracies ``train_model`` returned. The hidden pytest checks (``checks``) score them in
this process, which never runs student Python, by recomputing what each must be.
``python -m autograder grade SUBMISSION.ipynb`` is the entry point.
"""

__version__ = "2.0.0"
