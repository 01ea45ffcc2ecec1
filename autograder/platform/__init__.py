"""Grading inside a course platform's container (Gradescope, PrairieLearn): what their runners share.

``install.sh`` builds the image (Python packages with PyTorch's CPU wheels, MNIST, the sandbox's user);
``container`` reads the container's limits; ``grading`` grades the one notebook a student uploaded and
says whether it was graded, could not be graded (the student's file) or the grader failed (not theirs).
"""
