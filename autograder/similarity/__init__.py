"""``python -m autograder similarity``: the pairs of a class whose answer cells are most alike.

Only the answer cells are compared, as MOSS-style winnowed fingerprints of a normalised token stream
(``tokens``, ``fingerprints``); whatever the release notebook gives students counts for nothing. Pairs are
scored by the fingerprints they share (``pairs``) and written as a side-by-side HTML page (``page``) and a
CSV (``scores_csv``). The report names pairs to review, never a verdict.
"""
