"""The task's folder: its entry point (``evaluation.py``), its report schema and its reports.

The kit itself is the ``perfkit`` package; ``python -m evaluation`` is kept as another name for
``python -m perfkit``, since README, the Makefile and the task's users type it.
"""
