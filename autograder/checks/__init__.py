"""The hidden checks, written as pytest tests over a GradingContext (fixture ``graded``).

Each test carries ``@pytest.mark.check(title, points)``; the title may name ``{model}`` for
parametrized tests. The assertion message of a failing test is the reason the student sees.
"""
