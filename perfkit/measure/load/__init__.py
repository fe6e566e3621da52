"""The load test's measuring half: a serving process (`_server`) driven from outside (`driver`), and
what its raw run shows (`analysis`).

Nothing is imported here: the serving process is a module of this package, and its resident
set must hold only what a dashboard API process would.
"""
