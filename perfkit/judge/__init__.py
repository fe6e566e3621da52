"""Stage 3, judge: measurements held against the goals.

Enters: measurements from `perfkit.measure`.
Leaves: `Check` objects, the kit's one judging type (pass, FAIL, inconclusive or info), for the
bench, the load test, the candidates and the task's requirements alike, and the comparison of
two runs. Every threshold is declared once, in `goals`.
"""
