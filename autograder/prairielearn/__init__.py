"""PrairieLearn: the question folder ``python -m autograder prairielearn`` writes, and its external grader.

``question`` writes ``info.json``, ``question.html``, the grader image's ``Dockerfile`` and ``tests/``
(the grader, which PrairieLearn mounts at ``/grade/tests``); in the container, ``run_grader`` calls
``run`` for each submission, and ``results`` writes what PrairieLearn shows.
"""
