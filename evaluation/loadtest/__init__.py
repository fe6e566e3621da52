"""The load test as one unit: a serving process (`_server`) driven from outside (`driver`), what
its runs show and whether they meet the goals (`analysis`), and the whole run (`run`).

Nothing is imported here: the serving process is a module of this package, and its resident
set must hold only what a dashboard API process would.
"""
