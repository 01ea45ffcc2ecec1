"""``python -m autograder batch``: grade every submission of an nbgrader course folder."""
