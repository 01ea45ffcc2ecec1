"""Gradescope: the bundle ``python -m autograder gradescope`` builds, and what runs inside it.

``bundle`` writes ``autograder.zip``; in Gradescope's image ``setup.sh`` installs the grading
dependencies and MNIST once, then ``run_autograder`` calls ``run`` for each submission.
"""
