"""Hidden grading engine for the ``cnn`` assignment.

The student's notebook code runs in a separate, resource-limited process (``sandbox``) that returns
artifacts: exported computation graphs of the three models, parameter tensors and call logs. The
hidden pytest checks (``checks``) then score those artifacts in this process, which never runs student
Python. ``python -m autograder grade SUBMISSION.ipynb`` is the entry point.
"""

__version__ = "1.1.0"
